-- Technical indicator values per candle from the Spark job, keyed by symbol, interval,
-- indicator type and open_time. Incremental on Spark's computed_at.
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'indicator_type_id', 'open_time'],
        on_schema_change='fail',
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'indicator_type_id', 'open_time']) }}"]
    )
}}

with indicator_values as (

    select * from {{ ref('stg_spark__indicator_values') }}
    where indicator_value is not null
    {% if is_incremental() %}
      and {{ changed_since_last_run('computed_at', var('indicator_lookback_minutes', 60)) }}
    {% endif %}

),

symbols as (

    select * from {{ ref('dim_symbol') }}

),

intervals as (

    select * from {{ ref('dim_interval') }}

),

indicator_types as (

    select * from {{ ref('dim_indicator_type') }}

),

final as (

    select
        symbols.symbol_id,
        intervals.interval_id,
        indicator_types.indicator_type_id,
        indicator_values.indicator_value,
        indicator_values.open_time,
        indicator_values.computed_at
    from indicator_values
    inner join symbols
        on indicator_values.symbol_code = symbols.symbol_code
    inner join intervals
        on indicator_values.interval_code = intervals.interval_code
    inner join indicator_types
        on indicator_values.indicator_code = indicator_types.indicator_code

)

select * from final
