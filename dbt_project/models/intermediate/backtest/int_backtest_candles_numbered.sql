-- Every candle of fact_kline numbered within its series (symbol, interval) in open_time order:
-- the backtest's "next candle" and "the N candles of the window" count rows of the series, so a
-- recorded exchange outage (missing hours) is stepped over, not padded.
{{
    config(
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'candle_number']) }}",
                   "{{ add_index('ix_int_backtest_candles_time', ['symbol_id', 'interval_id', 'open_time']) }}"]
    )
}}

with klines as (

    select symbol_id, interval_id, open_time, open, high, low, close
    from {{ ref('fact_kline') }}

),

intervals as (

    select interval_id, interval_seconds
    from {{ ref('dim_interval') }}

),

final as (

    select
        klines.symbol_id,
        klines.interval_id,
        row_number() over (
            partition by klines.symbol_id, klines.interval_id order by klines.open_time
        ) as candle_number,
        klines.open,
        klines.high,
        klines.low,
        klines.close,
        klines.open_time,
        date_add(klines.open_time, interval intervals.interval_seconds second) as close_at
    from klines
    inner join intervals
        on klines.interval_id = intervals.interval_id

)

select * from final
