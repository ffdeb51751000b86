-- Technical indicators computed by Spark (seed indicator_types.csv). The id is a CRC32 of the
-- code so it stays the same when indicators are added to or removed from the seed.
with indicator_types as (

    select * from {{ ref('indicator_types') }}

),

final as (

    select
        crc32(indicator_code) as indicator_type_id,
        cast(indicator_code as char(32)) as indicator_code,
        cast(indicator_name as char(128)) as indicator_name,
        cast(ta_function as char(32)) as ta_function,
        cast(output_name as char(32)) as output_name,
        cast(description as char(512)) as description,
        timeperiod,
        fastperiod,
        slowperiod,
        signalperiod,
        nbdev,
        cast(is_active as unsigned) as is_active
    from indicator_types

)

select * from final
