-- One row per closed candle. Incremental: each run re-reads the candles landed (or changed)
-- since the newest landed_at already loaded, minus a look-back for late commits, and writes
-- those not already stored with the same landed_at: a candle re-read by the look-back is not
-- rewritten, so refreshed_at stays the change feed of the models after it (the per-candle
-- marts recompute a series from its earliest rewritten candle).
-- refreshed_at marks the rows a build wrote, for its tests (macro get_where_subquery); an edit
-- of this SQL rebuilds the table in full by itself (macro rebuild_when_changed).
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time'],
        on_schema_change='fail',
        rebuild_when_changed={},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_fact_kline_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with klines as (

    select * from {{ ref('stg_binance__klines') }}
    {% if is_incremental() %}
    where {{ changed_since_last_run('landed_at', var('kline_lookback_minutes', 60)) }}
    {% endif %}

),

symbols as (

    select * from {{ ref('dim_symbol') }}

),

intervals as (

    select * from {{ ref('dim_interval') }}

),

{% if is_incremental() %}
-- the re-read candles already stored as landed: not rewritten
stored as (

    select symbol_id, interval_id, open_time, landed_at from {{ this }}

),
{% endif %}

final as (

    select
        symbols.symbol_id,
        intervals.interval_id,
        klines.open,
        klines.high,
        klines.low,
        klines.close,
        klines.volume,
        klines.quote_volume,
        klines.trade_count,
        klines.taker_buy_base_volume,
        klines.taker_buy_quote_volume,
        klines.is_placeholder_candle,
        klines.open_time,
        klines.close_time,
        date_add(klines.open_time, interval intervals.interval_seconds second) as close_at,
        klines.landed_at,
        {{ refreshed_at() }} as refreshed_at
    from klines
    inner join symbols
        on klines.symbol_code = symbols.symbol_code
    inner join intervals
        on klines.interval_code = intervals.interval_code
    {% if is_incremental() %}
    left join stored
        on stored.symbol_id = symbols.symbol_id
        and stored.interval_id = intervals.interval_id
        and stored.open_time = klines.open_time
    where stored.open_time is null
       or not (stored.landed_at <=> klines.landed_at)
    {% endif %}

)

select * from final
