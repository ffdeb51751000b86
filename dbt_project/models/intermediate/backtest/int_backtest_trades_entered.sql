-- One row per LONG or SHORT prediction: its signal candle, ATR at the signal candle, the entry
-- candle (the next candle of the series) and the take-profit and stop-loss levels from the entry
-- price. Entry columns are null while the next candle is not in the data yet.
{{ config(post_hook=["{{ add_primary_key(['prediction_id']) }}"]) }}

with predictions as (

    select prediction_id, symbol_id, interval_id, open_time, action
    from {{ ref('fact_prediction') }}
    where action in ('LONG', 'SHORT')

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

final as (

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

)

select * from final
