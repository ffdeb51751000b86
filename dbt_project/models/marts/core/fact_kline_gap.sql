-- Missing candles per series: each gap between two consecutive candles, and whether a known
-- exchange outage (seed exchange_outages.csv) explains it. Gaps are recorded, never filled.
{{ config(post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'gap_start_at']) }}"]) }}

with klines as (

    select * from {{ ref('fact_kline') }}

),

intervals as (

    select * from {{ ref('dim_interval') }}

),

outages as (

    select * from {{ ref('dim_exchange_outage') }}

),

with_previous as (

    select
        klines.symbol_id,
        klines.interval_id,
        intervals.interval_seconds,
        klines.open_time,
        lag(klines.open_time) over (
            partition by klines.symbol_id, klines.interval_id order by klines.open_time
        ) as previous_open_time
    from klines
    inner join intervals
        on klines.interval_id = intervals.interval_id

),

gaps as (

    select
        symbol_id,
        interval_id,
        timestampdiff(second, previous_open_time, open_time) div interval_seconds - 1
            as missing_candles,
        date_add(previous_open_time, interval interval_seconds second) as gap_start_at,
        open_time as gap_end_at
    from with_previous
    where timestampdiff(second, previous_open_time, open_time) > interval_seconds

),

final as (

    select
        gaps.symbol_id,
        gaps.interval_id,
        outages.outage_id,
        gaps.missing_candles,
        case when outages.outage_id is not null then 1 else 0 end as is_known_outage,
        gaps.gap_start_at,
        gaps.gap_end_at
    from gaps
    left join outages
        on gaps.gap_start_at >= outages.outage_start_at
        and gaps.gap_end_at <= outages.outage_end_at

)

select * from final
