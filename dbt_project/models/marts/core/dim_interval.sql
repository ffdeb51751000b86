-- Kline intervals (seed intervals.csv).
with intervals as (

    select * from {{ ref('intervals') }}

),

final as (

    select
        cast(interval_id as unsigned) as interval_id,
        cast(interval_code as char(8)) as interval_code,
        cast(interval_seconds as unsigned) as interval_seconds
    from intervals

)

select * from final
