-- One row per LONG or SHORT prediction: its signal candle, ATR at the signal candle, the entry
-- candle (the next candle of the series) and the take-profit and stop-loss levels from the entry
-- price. Entry columns are null while the next candle is not in the data yet.
--
-- Incremental per prediction: a run computes the trades of the signal candles whose inputs
-- its parents rewrote since this model's newest row (their refreshed_at change feeds, read
-- from the literal backtest_newest_refreshed_at): the prediction, the signal candle or the
-- next one (int_backtest_candles_numbered: new, re-landed or renumbered), the ATR value; and
-- the stored trades whose entry candle is now past their series' end. Of those it writes only
-- the trades that differ from the stored rows or are new, with refreshed_at: the change feed
-- of the per-trade models after it. Computing every trade instead took about a second per
-- build at the sample size, growing with history. A stored trade whose prediction is no
-- longer LONG or SHORT is deleted by the pre-hook. A change of this SQL or of the ATR code or
-- TP/SL multiples makes the next run a full rebuild by itself.
{%- set compared = ['symbol_id', 'interval_id', 'action', 'direction_sign',
                    'signal_candle_number', 'entry_candle_number', 'atr_value', 'entry_price',
                    'tp_price', 'sl_price', 'signal_open_time', 'entry_time'] %}
{{
    config(
        materialized='incremental',
        unique_key=['prediction_id'],
        on_schema_change='fail',
        rebuild_when_changed={'vars': {
            'atr_indicator_code': backtest_parameter('atr_indicator_code'),
            'tp_atr_multiple': backtest_parameter('tp_atr_multiple'),
            'sl_atr_multiple': backtest_parameter('sl_atr_multiple')}},
        pre_hook=["{{ backtest_delete_vanished_trades(ref('fact_prediction'), traded_only=true) }}"],
        post_hook=["{{ add_primary_key(['prediction_id']) }}",
                   "{{ add_index('ix_int_backtest_trades_entered_refreshed_at', ['refreshed_at']) }}",
                   "{{ add_index('ix_int_backtest_trades_entered_signal', ['symbol_id', 'interval_id', 'signal_candle_number']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set newest = backtest_newest_refreshed_at() %}

with predictions as (

    select predictions.prediction_id, predictions.symbol_id, predictions.interval_id,
        predictions.open_time, predictions.action
    from {{ ref('fact_prediction') }} as predictions
    {%- if newest is not none %}
    inner join ({{ backtest_entered_signals_to_redo(newest) }}) as redo
        on redo.symbol_id = predictions.symbol_id
        and redo.interval_id = predictions.interval_id
        and redo.open_time = predictions.open_time
    {%- endif %}
    where predictions.action in ('LONG', 'SHORT')

),

candles as (

    select * from {{ ref('int_backtest_candles_numbered') }}

),

atr as (

    select
        indicators.symbol_id,
        indicators.interval_id,
        indicators.open_time,
        indicators.indicator_value as atr_value
    from {{ ref('fact_indicator') }} as indicators
    inner join {{ ref('dim_indicator_type') }} as indicator_types
        on indicators.indicator_type_id = indicator_types.indicator_type_id
    where indicator_types.indicator_code = '{{ backtest_parameter("atr_indicator_code") }}'

),

signals as (

    select
        predictions.prediction_id,
        predictions.symbol_id,
        predictions.interval_id,
        predictions.action,
        case when predictions.action = 'LONG' then 1 else -1 end as direction_sign,
        signal_candles.candle_number as signal_candle_number,
        atr.atr_value,
        predictions.open_time as signal_open_time
    from predictions
    left join candles as signal_candles
        on predictions.symbol_id = signal_candles.symbol_id
        and predictions.interval_id = signal_candles.interval_id
        and predictions.open_time = signal_candles.open_time
    left join atr
        on predictions.symbol_id = atr.symbol_id
        and predictions.interval_id = atr.interval_id
        and predictions.open_time = atr.open_time

),

entered as (

    select
        signals.*,
        entry_candles.candle_number as entry_candle_number,
        cast(entry_candles.open as double) as entry_price,
        entry_candles.open_time as entry_time
    from signals
    left join candles as entry_candles
        on signals.symbol_id = entry_candles.symbol_id
        and signals.interval_id = entry_candles.interval_id
        and entry_candles.candle_number = signals.signal_candle_number + 1

),

computed as (

    select
        prediction_id,
        symbol_id,
        interval_id,
        cast(action as char(8)) as action,
        direction_sign,
        signal_candle_number,
        entry_candle_number,
        cast(atr_value as double) as atr_value,
        entry_price,
        entry_price + direction_sign * {{ backtest_parameter('tp_atr_multiple') }} * atr_value
            as tp_price,
        entry_price - direction_sign * {{ backtest_parameter('sl_atr_multiple') }} * atr_value
            as sl_price,
        signal_open_time,
        entry_time
    from entered

),

final as (

    select
        computed.*,
        {{ refreshed_at() }} as refreshed_at
    from computed
    {%- if is_incremental() %}
    -- only what is new or differs from the stored row
    left join {{ this }} as stored
        on stored.prediction_id = computed.prediction_id
    where stored.prediction_id is null
        {%- for column in compared %}
        or not (stored.{{ column }} <=> computed.{{ column }})
        {%- endfor %}
    {%- endif %}

)

select * from final
