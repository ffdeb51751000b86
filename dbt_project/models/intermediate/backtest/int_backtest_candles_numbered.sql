-- Every candle of fact_kline numbered within its series (symbol, interval) in open_time order:
-- the backtest's "next candle" and "the N candles of the window" count rows of the series, so a
-- recorded exchange outage (missing hours) is stepped over, not padded.
--
-- Incremental per series: the candles fact_kline rewrote since this model's newest row are
-- compared with the stored ones, and each series' candles counted (macro
-- backtest_changed_candles); from the first candle that differs (new, re-landed with other
-- prices, or gone) to the end the series is renumbered, continuing from the stored number of
-- the candle before it, and only the rows that differ from the stored ones are written, with
-- refreshed_at (new candles append; a re-landed candle rewrites itself; a late candle
-- filling a gap rewrites the numbers after it). refreshed_at is how the trade models find
-- the trades whose windows changed. The pre-hook deletes the numbers past a series' end (a
-- candle gone). A change of this SQL or of dim_interval makes the next run a full rebuild by
-- itself.
{%- set windows = recompute_windows(backtest_changed_candles(), 0) %}
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'candle_number'],
        on_schema_change='fail',
        rebuild_when_changed={'relations': ['dim_interval']},
        pre_hook=["{{ backtest_delete_numbers_past_the_end() }}"],
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'candle_number']) }}",
                   "{{ add_index('ix_int_backtest_candles_time', ['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_int_backtest_candles_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with klines as (

    select symbol_id, interval_id, open_time, open, high, low, close
    from {{ ref('fact_kline') }} as klines
    where {{ in_recompute_windows('klines', windows, since='first_changed_at') }}

),

intervals as (

    select interval_id, interval_seconds
    from {{ ref('dim_interval') }}

),

-- per rewritten series, the stored candles before its first changed one (numbers 1..n)
earlier as (

    {%- if windows %}
    {%- for w in windows %}
    select {{ w[0] }} as symbol_id, {{ w[1] }} as interval_id, (
        select coalesce(max(stored.candle_number), 0) from {{ this }} as stored
        where stored.symbol_id = {{ w[0] }} and stored.interval_id = {{ w[1] }}
            and stored.open_time < '{{ w[2] }}') as candles_before
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- else %}
    select 0 as symbol_id, 0 as interval_id, 0 as candles_before from dual where 1 = 0
    {%- endif %}

),

numbered as (

    select
        klines.symbol_id,
        klines.interval_id,
        coalesce(earlier.candles_before, 0) + row_number() over (
            partition by klines.symbol_id, klines.interval_id order by klines.open_time
        ) as candle_number,
        klines.open,
        klines.high,
        klines.low,
        klines.close,
        klines.open_time,
        date_add(klines.open_time, interval intervals.interval_seconds second) as close_at,
        {{ refreshed_at() }} as refreshed_at
    from klines
    inner join intervals
        on klines.interval_id = intervals.interval_id
    left join earlier
        on klines.symbol_id = earlier.symbol_id
        and klines.interval_id = earlier.interval_id

),

final as (

    select numbered.*
    from numbered
    {%- if is_incremental() %}
    -- only the numbers whose candle is new or differs from the stored one
    left join {{ this }} as stored
        on stored.symbol_id = numbered.symbol_id
        and stored.interval_id = numbered.interval_id
        and stored.candle_number = numbered.candle_number
    where stored.candle_number is null
        {%- for column in ['open_time', 'open', 'high', 'low', 'close', 'close_at'] %}
        or not (stored.{{ column }} <=> numbered.{{ column }})
        {%- endfor %}
    {%- endif %}

)

select * from final
