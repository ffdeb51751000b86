-- Everything a metric can read, one row per candle: prices, volume, the Spark indicators
-- (pivoted) and derived price/volume expressions. A metric's input_code names one of these
-- columns. Every value uses only the candle itself and earlier candles of the same series.
--
-- Incremental per series: the earliest candle whose inputs changed since this model last read
-- them (a fact_kline row new or re-landed: fact_kline rewrote it after this model's newest
-- row, its refreshed_at change feed, macro rows_refreshed_since_this; a fact_indicator value
-- Spark changed: computed_at newer than the newest stored here; a news sentiment that differs
-- from the stored one, among the news_sentiment_weighted_fact rows rewritten since, macro
-- newest_refreshed_at_of_this) is C; the inputs are read from the squeeze_lookback_candles-th
-- candle before C (the longest window here; lag() needs 1) and the rows from C on replace the
-- stored ones. The change feeds name the same candles as comparing every stored row with
-- fact_kline and the news fact did (0.4 s per build at the sample size, growing with
-- history); the news values are still compared, since the news fact rewrites whole windows
-- of unchanged values. A change of var
-- squeeze_lookback_candles or of this SQL makes the next run a full rebuild by itself
-- (rebuild_when_changed; the macros it calls are not covered: after editing them run
-- `dbt run --full-refresh`).
-- The index on computed_at makes "the newest stored here" an index lookup, which MariaDB folds
-- into a constant, so fact_indicator's new values are read by a range of its computed_at index
-- (without it: a scan of this table, then of all 1.4M entries of that index, 0.6 s per build
-- at the sample size).
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time'],
        rebuild_when_changed={'vars': {'squeeze_lookback_candles': var('squeeze_lookback_candles', 120)}},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_int_metric_inputs_refreshed_at', ['refreshed_at']) }}",
                   "{{ add_index('ix_int_metric_inputs_computed_at', ['computed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set indicator_codes = [
    'rsi_14', 'ema_12', 'ema_26', 'ema_50', 'ema_200', 'macd', 'macd_signal', 'macd_hist',
    'bb_upper', 'bb_middle', 'bb_lower', 'bb_width', 'bb_percent_b', 'adx_14', 'plus_di_14',
    'minus_di_14', 'atr_14', 'obv', 'vwap'] %}
-- depends_on: {{ ref('dim_interval') }}, {{ ref('fact_kline_gap') }} (the look-back, incremental runs)
{%- set squeeze = var('squeeze_lookback_candles', 120) %}
{%- set lookback_candles = [squeeze | int, 1] | max %}

{#- per series: the earliest changed candle and where the inputs must be read from #}
{%- set windows = recompute_windows(
    rows_refreshed_since_this(ref('fact_kline')) ~ "
    union all
    select symbol_id, interval_id, open_time
    from " ~ ref('fact_indicator') ~ "
    where " ~ changed_since_last_run('computed_at') ~ "
    union all
    select news.symbol_id, news.interval_id, news.open_time
    from " ~ ref('news_sentiment_weighted_fact') ~ " as news
    inner join " ~ this ~ " as stored
        on stored.symbol_id = news.symbol_id
        and stored.interval_id = news.interval_id
        and stored.open_time = news.open_time
    where news.refreshed_at > " ~ newest_refreshed_at_of_this() ~ "
        and not (stored.news_sentiment <=> news.sentiment_weighted)",
    lookback_candles, ref('dim_interval'), ref('fact_kline_gap')) %}

with klines as (

    select * from {{ ref('fact_kline') }} as fact_kline
    where {{ in_recompute_windows('fact_kline', windows) }}

),

indicators as (

    select * from {{ ref('fact_indicator') }} as fact_indicator
    where {{ in_recompute_windows('fact_indicator', windows) }}
        and {{ in_indicator_types('fact_indicator', windows) }}

),

indicator_types as (

    select * from {{ ref('dim_indicator_type') }}

),

news as (

    select * from {{ ref('news_sentiment_weighted_fact') }} as news
    where {{ in_recompute_windows('news', windows) }}

),

pivoted_indicators as (

    select
        indicators.symbol_id,
        indicators.interval_id,
        indicators.open_time,
        {%- for code in indicator_codes %}
        max(case when indicator_types.indicator_code = '{{ code }}'
                 then indicators.indicator_value end) as {{ code }},
        {%- endfor %}
        max(indicators.computed_at) as computed_at
    from indicators
    inner join indicator_types
        on indicators.indicator_type_id = indicator_types.indicator_type_id
    group by
        indicators.symbol_id,
        indicators.interval_id,
        indicators.open_time

),

joined as (

    select
        klines.symbol_id,
        klines.interval_id,
        cast(klines.open as double) as open,
        cast(klines.high as double) as high,
        cast(klines.low as double) as low,
        cast(klines.close as double) as close,
        cast(klines.volume as double) as volume,
        {%- for code in indicator_codes %}
        pivoted_indicators.{{ code }},
        {%- endfor %}
        news.sentiment_weighted as news_sentiment,
        klines.is_placeholder_candle,
        klines.open_time,
        klines.landed_at,
        pivoted_indicators.computed_at
    from klines
    left join pivoted_indicators
        on klines.symbol_id = pivoted_indicators.symbol_id
        and klines.interval_id = pivoted_indicators.interval_id
        and klines.open_time = pivoted_indicators.open_time
    left join news
        on klines.symbol_id = news.symbol_id
        and klines.interval_id = news.interval_id
        and klines.open_time = news.open_time

),

final as (

    select
        joined.*,
        close / nullif(ema_50, 0) - 1 as close_ema_50_pct,
        close / nullif(ema_200, 0) - 1 as close_ema_200_pct,
        ema_12 / nullif(ema_26, 0) - 1 as ema_12_26_spread_pct,
        plus_di_14 - minus_di_14 as di_spread,
        macd_hist / nullif(close, 0) as macd_hist_pct,
        close / nullif(vwap, 0) - 1 as close_vwap_pct,
        atr_14 / nullif(close, 0) as atr_pct,
        volume * sign(close - open) as signed_volume,
        (close - lag(close) over (partition by symbol_id, interval_id order by open_time))
            / nullif(lag(atr_14) over (partition by symbol_id, interval_id order by open_time), 0)
            as atr_move,
        case
            when count(bb_width) over (
                partition by symbol_id, interval_id order by open_time
                rows between {{ var('squeeze_lookback_candles', 120) }} preceding and 1 preceding
            ) = {{ var('squeeze_lookback_candles', 120) }}
            then bb_width / nullif(avg(bb_width) over (
                partition by symbol_id, interval_id order by open_time
                rows between {{ var('squeeze_lookback_candles', 120) }} preceding and 1 preceding
            ), 0)
        end as bb_width_ratio,
        {{ refreshed_at() }} as refreshed_at
    from joined

)

select * from final
where {{ in_recompute_windows('final', windows, since='first_changed_at') }}
