-- Per candle: the four component scores (each the weighted sum of the signals of its own
-- metrics), the maximum possible score per direction, and the inputs of the guards.
--
-- Incremental per series: nothing here looks at earlier rows (has_recent_gap reads
-- fact_kline_gap, and a gap changes only with a candle at or before its end, which
-- int_metric_inputs rewrites from), so the candles that int_metric_inputs or fact_metric_value
-- rewrote since this model's newest row are recomputed from the earliest of them on. A change
-- of dim_metric, score_settings or this SQL makes the next run a full rebuild by itself.
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time'],
        rebuild_when_changed={'relations': ['dim_metric', 'score_settings']},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_int_prediction_components_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set windows = recompute_windows(
    rows_refreshed_since_this(ref('int_metric_inputs')) ~ " union all "
    ~ rows_refreshed_since_this(ref('fact_metric_value')), 0) %}

with klines as (

    select * from {{ ref('fact_kline') }} as fact_kline
    where {{ in_recompute_windows('fact_kline', windows) }}

),

symbols as (

    select * from {{ ref('dim_symbol') }}

),

intervals as (

    select * from {{ ref('dim_interval') }}

),

metric_values as (

    select * from {{ ref('fact_metric_value') }} as fact_metric_value
    where {{ in_recompute_windows('fact_metric_value', windows) }}

),

metrics as (

    select * from {{ ref('dim_metric') }}
    where is_active = 1

),

inputs as (

    select * from {{ ref('int_metric_inputs') }} as int_metric_inputs
    where {{ in_recompute_windows('int_metric_inputs', windows) }}

),

gaps as (

    select * from {{ ref('fact_kline_gap') }}

),

score_settings as (

    select * from {{ ref('score_settings') }}

),

max_scores as (

    select
        coalesce(sum(case when direction = 'bullish' then metric_weight end), 0) as max_bullish_score,
        coalesce(sum(case when direction = 'bearish' then metric_weight end), 0) as max_bearish_score
    from metrics

),

gap_lookback as (

    select cast(setting_value as unsigned) as gap_lookback_candles
    from score_settings
    where setting_code = 'gap_lookback_candles'

),

component_scores as (

    select
        symbol_id,
        interval_id,
        open_time,
        sum(case when component = 'trend' then coalesce(metric_signal * metric_weight, 0) else 0 end)
            as trend_score,
        sum(case when component = 'momentum' then coalesce(metric_signal * metric_weight, 0) else 0 end)
            as momentum_score,
        sum(case when component = 'volume' then coalesce(metric_signal * metric_weight, 0) else 0 end)
            as volume_score,
        sum(case when component = 'volatility' then coalesce(metric_signal * metric_weight, 0) else 0 end)
            as volatility_score,
        sum(case when metric_value is null then 1 else 0 end) as missing_metric_count
    from metric_values
    group by
        symbol_id,
        interval_id,
        open_time

),

final as (

    select
        klines.symbol_id,
        klines.interval_id,
        symbols.symbol_code,
        intervals.interval_code,
        coalesce(component_scores.trend_score, 0) as trend_score,
        coalesce(component_scores.momentum_score, 0) as momentum_score,
        coalesce(component_scores.volume_score, 0) as volume_score,
        coalesce(component_scores.volatility_score, 0) as volatility_score,
        max_scores.max_bullish_score,
        max_scores.max_bearish_score,
        coalesce(component_scores.missing_metric_count, 0) as missing_metric_count,
        inputs.bb_width_ratio,
        inputs.atr_pct,
        klines.is_placeholder_candle,
        case when exists (
            select 1
            from gaps
            cross join gap_lookback
            where gaps.symbol_id = klines.symbol_id
              and gaps.interval_id = klines.interval_id
              and gaps.gap_end_at <= klines.open_time
              and gaps.gap_end_at > date_sub(
                  klines.open_time,
                  interval gap_lookback.gap_lookback_candles * intervals.interval_seconds second)
        ) then 1 else 0 end as has_recent_gap,
        klines.open_time,
        klines.close_at as predicting_at,
        {{ refreshed_at() }} as refreshed_at
    from klines
    inner join symbols
        on klines.symbol_id = symbols.symbol_id
    inner join intervals
        on klines.interval_id = intervals.interval_id
    cross join max_scores
    left join component_scores
        on klines.symbol_id = component_scores.symbol_id
        and klines.interval_id = component_scores.interval_id
        and klines.open_time = component_scores.open_time
    left join inputs
        on klines.symbol_id = inputs.symbol_id
        and klines.interval_id = inputs.interval_id
        and klines.open_time = inputs.open_time

)

select * from final
