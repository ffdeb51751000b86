{%- set slope_n = backtest_parameter('regime_ema_slope_candles') | int -%}
{%- set vol_n = backtest_parameter('regime_volatility_window_candles') | int -%}
{%- set codes = ['adx_14', 'bb_width', backtest_parameter('regime_ema_code'),
                 backtest_parameter('atr_indicator_code')] -%}
-- Market regime per candle, from data known at the candle's close: trend strength (ADX(14) and
-- the slope of the EMA over {{ slope_n }} candles) x volatility state (ATR% against its own mean
-- over the previous {{ vol_n }} candles).
--
-- Incremental per series: a candle's row reads that candle and the {{ vol_n }} before it, so
-- when fact_kline or fact_indicator rewrote candles since this model's newest row, the series
-- is recomputed from its earliest rewritten candle to its end, reading the inputs from
-- {{ vol_n }} candles before it (macros recompute_windows, rows_refreshed_since_this). The
-- mean of ATR% is summed in exact decimals, so a window's mean does not depend on where the
-- read started: an incremental run gives a full build's numbers bit for bit. A change of this
-- SQL, of dim_indicator_type or of the regime parameters makes the next run a full rebuild.
-- depends_on: {{ ref('dim_interval') }}, {{ ref('fact_kline_gap') }} (the look-back, incremental runs)
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time'],
        on_schema_change='fail',
        rebuild_when_changed={'relations': ['dim_indicator_type'], 'vars': {
            'regime_ema_slope_candles': slope_n,
            'regime_volatility_window_candles': vol_n,
            'regime_ema_code': backtest_parameter('regime_ema_code'),
            'atr_indicator_code': backtest_parameter('atr_indicator_code'),
            'regime_adx_trend_min': backtest_parameter('regime_adx_trend_min'),
            'regime_high_volatility_ratio': backtest_parameter('regime_high_volatility_ratio'),
            'regime_low_volatility_ratio': backtest_parameter('regime_low_volatility_ratio')}},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_mart_regime_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{#- per series: the earliest rewritten candle and where the inputs must be read from #}
{%- set windows = recompute_windows(
    rows_refreshed_since_this(ref('fact_kline')) ~ " union all "
    ~ rows_refreshed_since_this(ref('fact_indicator')),
    [slope_n, vol_n] | max, ref('dim_interval'), ref('fact_kline_gap')) %}

with klines as (

    select symbol_id, interval_id, open_time, close
    from {{ ref('fact_kline') }} as klines
    where {{ in_recompute_windows('klines', windows) }}

),

indicators as (

    select
        indicators.symbol_id,
        indicators.interval_id,
        indicators.open_time,
        max(case when indicator_types.indicator_code = 'adx_14'
            then indicators.indicator_value end) as adx_14,
        max(case when indicator_types.indicator_code = '{{ backtest_parameter("regime_ema_code") }}'
            then indicators.indicator_value end) as ema_value,
        max(case when indicator_types.indicator_code = '{{ backtest_parameter("atr_indicator_code") }}'
            then indicators.indicator_value end) as atr_value,
        max(case when indicator_types.indicator_code = 'bb_width'
            then indicators.indicator_value end) as bb_width
    from {{ ref('fact_indicator') }} as indicators
    inner join {{ ref('dim_indicator_type') }} as indicator_types
        on indicators.indicator_type_id = indicator_types.indicator_type_id
    where indicator_types.indicator_code in ('{{ codes | join("', '") }}')
      and {{ in_indicator_types('indicators', windows, codes) }}
      and {{ in_recompute_windows('indicators', windows) }}
    group by indicators.symbol_id, indicators.interval_id, indicators.open_time

),

candles as (

    select
        klines.symbol_id,
        klines.interval_id,
        cast(klines.close as double) as close,
        indicators.adx_14,
        indicators.ema_value,
        indicators.bb_width,
        100 * indicators.atr_value / nullif(klines.close, 0) as atr_pct,
        klines.open_time
    from klines
    left join indicators
        on klines.symbol_id = indicators.symbol_id
        and klines.interval_id = indicators.interval_id
        and klines.open_time = indicators.open_time

),

measures as (

    select
        candles.*,
        100 * (ema_value / nullif(lag(ema_value, {{ slope_n }}) over series, 0) - 1)
            as ema_slope_pct,
        -- exact decimal sums: a moving double sum carries the rounding of every row that
        -- entered and left the frame since the read started
        avg(cast(atr_pct as decimal(38, 20))) over (
            partition by symbol_id, interval_id order by open_time
            rows between {{ vol_n }} preceding and 1 preceding
        ) as atr_pct_mean,
        count(atr_pct) over (
            partition by symbol_id, interval_id order by open_time
            rows between {{ vol_n }} preceding and 1 preceding
        ) as atr_pct_count
    from candles
    window series as (partition by symbol_id, interval_id order by open_time)

),

states as (

    select
        measures.*,
        atr_pct / nullif(case when atr_pct_count = {{ vol_n }} then atr_pct_mean end, 0)
            as atr_pct_ratio,
        case
            when adx_14 is null or ema_slope_pct is null then 'unknown'
            when adx_14 >= {{ backtest_parameter('regime_adx_trend_min') }} and ema_slope_pct > 0
                then 'trend_up'
            when adx_14 >= {{ backtest_parameter('regime_adx_trend_min') }} and ema_slope_pct < 0
                then 'trend_down'
            else 'range'
        end as trend_strength
    from measures

),

final as (

    select
        symbol_id,
        interval_id,
        cast(case
            when trend_strength = 'unknown' or atr_pct_ratio is null then 'unknown'
            else concat(trend_strength, '_', case
                when atr_pct_ratio >= {{ backtest_parameter('regime_high_volatility_ratio') }}
                    then 'high_vol'
                when atr_pct_ratio <= {{ backtest_parameter('regime_low_volatility_ratio') }}
                    then 'low_vol'
                else 'normal_vol' end)
        end as char(40)) as regime,
        cast(trend_strength as char(20)) as trend_strength,
        cast(case
            when atr_pct_ratio is null then 'unknown'
            when atr_pct_ratio >= {{ backtest_parameter('regime_high_volatility_ratio') }}
                then 'high_vol'
            when atr_pct_ratio <= {{ backtest_parameter('regime_low_volatility_ratio') }}
                then 'low_vol'
            else 'normal_vol'
        end as char(20)) as volatility_state,
        cast(adx_14 as double) as adx_14,
        cast(ema_slope_pct as double) as ema_slope_pct,
        cast(atr_pct as double) as atr_pct,
        cast(atr_pct_ratio as double) as atr_pct_ratio,
        cast(bb_width as double) as bb_width,
        open_time,
        {{ refreshed_at() }} as refreshed_at
    from states
    where {{ in_recompute_windows('states', windows, since='first_changed_at') }}

)

select * from final
