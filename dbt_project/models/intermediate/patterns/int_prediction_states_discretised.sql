-- The discretised state of every prediction at its signal candle, one row per item
-- ("key=value"): symbol, side (LONG/SHORT only), binned indicator, score and news-sentiment
-- values (seed fp_growth_state_bins), the MACD cross, the market regime (mart_regime) and the
-- metrics of fact_metric_value that fire.
-- Only what is known at the signal candle's close: no outcome here (see fp_growth_transactions).
-- A table (not this folder's view): two models and the rule matching join it by item.
--
-- Incremental per prediction: a prediction's items read only its own candle (and, for the MACD
-- cross, the candle before) of fact_prediction, fact_indicator, fact_metric_value, mart_regime
-- and news_sentiment_weighted_fact, and the seeds; no quantile or window over the history.
-- Every input change of those candles reaches fact_prediction: int_metric_inputs finds new or
-- re-landed candles, changed indicator values (any type) and changed news sentiment, and the
-- metric chain rewrites each series from its earliest changed candle C to its end, stamping
-- refreshed_at; mart_regime at a candle reads only that candle and earlier ones of the same
-- inputs, so it can change only from C on too. So the predictions fact_prediction rewrote
-- after this model's newest refreshed_at are exactly the ones to redo (unique_key
-- prediction_id: all their items are replaced, so an item that no longer holds disappears).
-- A change of this SQL, of the seeds fp_growth_state_bins / fp_growth_parameters or of the
-- regime vars makes the next run a full rebuild by itself; after editing mart_regime's SQL or
-- a macro it calls, run `dbt run --full-refresh`.
{%- set regime_vars = {} %}
{%- for name in ['atr_indicator_code', 'regime_ema_code', 'regime_adx_trend_min',
                 'regime_ema_slope_candles', 'regime_high_volatility_ratio',
                 'regime_low_volatility_ratio', 'regime_volatility_window_candles'] %}
{%- do regime_vars.update({'backtest_' ~ name: backtest_parameter(name) | trim}) %}
{%- endfor %}
{{
    config(
        materialized='incremental',
        unique_key=['prediction_id'],
        rebuild_when_changed={'relations': ['fp_growth_state_bins', 'fp_growth_parameters'],
                              'vars': regime_vars},
        post_hook=["{{ add_primary_key(['prediction_id', 'item']) }}",
                   "{{ add_index('ix_int_prediction_states_item', ['item']) }}",
                   "{{ add_index('ix_int_prediction_states_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}
-- depends_on: {{ ref('dim_interval') }}, {{ ref('fact_kline_gap') }} (the look-back, incremental runs)

{#- per series: the first rewritten prediction (rows to redo) and one candle before it (the
    MACD histogram's previous value; gap-aware, as the metric chain's lag()) #}
{%- set windows = recompute_windows(
    "select symbol_id, interval_id, open_time from " ~ ref('fact_prediction') ~ "
    where " ~ changed_since_last_run('refreshed_at'),
    1, ref('dim_interval'), ref('fact_kline_gap')) %}

with predictions as (

    select * from {{ ref('fact_prediction') }} as fact_prediction
    where {{ in_recompute_windows('fact_prediction', windows, since='first_changed_at') }}

),

symbols as (

    select * from {{ ref('dim_symbol') }}

),

indicators as (

    select
        fact_indicator.symbol_id,
        fact_indicator.interval_id,
        fact_indicator.open_time,
        dim_indicator_type.indicator_code,
        fact_indicator.indicator_value
    from {{ ref('fact_indicator') }} as fact_indicator
    inner join {{ ref('dim_indicator_type') }} as dim_indicator_type
        on dim_indicator_type.indicator_type_id = fact_indicator.indicator_type_id
    where {{ in_recompute_windows('fact_indicator', windows) }}
        and {{ in_indicator_types('fact_indicator', windows) }}

),

metric_values as (

    select * from {{ ref('fact_metric_value') }} as fact_metric_value
    where {{ in_recompute_windows('fact_metric_value', windows, since='first_changed_at') }}

),

regimes as (

    select * from {{ ref('mart_regime') }} as mart_regime
    where {{ in_recompute_windows('mart_regime', windows, since='first_changed_at') }}

),

news as (

    select * from {{ ref('news_sentiment_weighted_fact') }} as news
    where {{ in_recompute_windows('news', windows, since='first_changed_at') }}

),

bins as (

    select * from {{ ref('fp_growth_state_bins') }}

),

indicator_inputs as (

    select
        predictions.prediction_id,
        indicators.indicator_code as input_code,
        indicators.indicator_value as input_value
    from predictions
    inner join indicators
        on indicators.symbol_id = predictions.symbol_id
        and indicators.interval_id = predictions.interval_id
        and indicators.open_time = predictions.open_time

),

score_inputs as (

    {%- set scores = ['trend_score', 'momentum_score', 'volume_score', 'volatility_score',
                      'confidence_score'] %}
    {%- for score in scores %}
    select prediction_id, '{{ score }}' as input_code, {{ score }} as input_value
    from predictions
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

news_inputs as (

    select
        predictions.prediction_id,
        'news_sentiment' as input_code,
        news.sentiment_weighted as input_value
    from predictions
    inner join news
        on news.symbol_id = predictions.symbol_id
        and news.interval_id = predictions.interval_id
        and news.open_time = predictions.open_time

),

-- Each input source joined to the bins on its own, then unioned: joining the union instead
-- makes MariaDB 10.11 materialise it and look it up by input_code per bin row (56 s for 72k
-- candles against 2.5 s this way).
binned as (

    {%- for source in ['indicator_inputs', 'score_inputs', 'news_inputs'] %}
    select
        inputs.prediction_id,
        bins.item_key,
        concat(bins.item_key, '=', bins.item_value) as item
    from {{ source }} as inputs
    inner join bins
        on bins.input_code = inputs.input_code
        and (bins.lower_bound is null or inputs.input_value >= bins.lower_bound)
        and (bins.upper_bound is null or inputs.input_value < bins.upper_bound)
    where inputs.input_value is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

macd_history as (

    select
        symbol_id,
        interval_id,
        open_time,
        indicator_value as macd_hist,
        lag(indicator_value) over (
            partition by symbol_id, interval_id order by open_time
        ) as previous_macd_hist
    from indicators
    where indicator_code = 'macd_hist'

),

macd_states as (

    select
        predictions.prediction_id,
        'macd' as item_key,
        concat('macd=', case
            when macd_history.previous_macd_hist <= 0 and macd_history.macd_hist > 0
                then 'bull_cross'
            when macd_history.previous_macd_hist >= 0 and macd_history.macd_hist < 0
                then 'bear_cross'
            when macd_history.macd_hist > 0 then 'bull'
            else 'bear'
        end) as item
    from predictions
    inner join macd_history
        on macd_history.symbol_id = predictions.symbol_id
        and macd_history.interval_id = predictions.interval_id
        and macd_history.open_time = predictions.open_time
    where macd_history.macd_hist is not null

),

metric_states as (

    select
        predictions.prediction_id,
        'metric' as item_key,
        concat('metric=', metric_values.metric_code) as item
    from predictions
    inner join metric_values
        on metric_values.symbol_id = predictions.symbol_id
        and metric_values.interval_id = predictions.interval_id
        and metric_values.open_time = predictions.open_time
    where abs(metric_values.metric_signal) >= {{ fp_parameter('metric_signal_min') }}

),

regime_states as (

    select
        predictions.prediction_id,
        'regime' as item_key,
        concat('regime=', regimes.regime) as item
    from predictions
    inner join regimes
        on regimes.symbol_id = predictions.symbol_id
        and regimes.interval_id = predictions.interval_id
        and regimes.open_time = predictions.open_time
    where regimes.regime <> 'unknown'

),

identity_states as (

    select
        predictions.prediction_id,
        'symbol' as item_key,
        concat('symbol=', symbols.symbol_code) as item
    from predictions
    inner join symbols on symbols.symbol_id = predictions.symbol_id
    union all
    select
        prediction_id,
        'side' as item_key,
        concat('side=', action) as item
    from predictions
    where action in ('LONG', 'SHORT')

),

final as (

    select prediction_id, cast(item_key as char(32)) as item_key, cast(item as char(255)) as item
    from binned
    union all
    select prediction_id, item_key, item from macd_states
    union all
    select prediction_id, item_key, item from metric_states
    union all
    select prediction_id, item_key, item from regime_states
    union all
    select prediction_id, item_key, item from identity_states

)

select final.*, {{ refreshed_at() }} as refreshed_at
from final
