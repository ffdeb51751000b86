-- Spark indicator output (long format). Ephemeral: the table appears only after the
-- spark_indicators step, which runs after the base stage.
{{ config(materialized='ephemeral') }}

with source as (

    select * from {{ source('staging', 'indicator_values') }}

),

renamed as (

    select
        symbol as symbol_code,
        interval_code,
        indicator_code,
        cast(value as double) as indicator_value,
        cast(open_time as datetime) as open_time,
        computed_at
    from source

)

select * from renamed
