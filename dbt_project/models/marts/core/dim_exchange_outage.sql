-- Known exchange outages (seed exchange_outages.csv): windows with no candles in any symbol.
with outages as (

    select * from {{ ref('exchange_outages') }}

),

final as (

    select
        cast(outage_id as unsigned) as outage_id,
        cast(description as char(512)) as description,
        cast(outage_start_at as datetime) as outage_start_at,
        cast(outage_end_at as datetime) as outage_end_at
    from outages

)

select * from final
