-- A closed trade's exit agrees with its exit candle and window (failing rows: disagreements):
-- gap exits fill at the candle's open beyond the level, level exits fill at the level inside
-- the candle's range, a TIMEOUT fills at the close of the window's last candle, and no
-- candle of the window before the exit candle reached either level. Inside a `dbt build`
-- only the results that build wrote (macro written_by_this_build).
{%- set lookahead = backtest_parameter('lookahead_candles') | int %}
with results as (
    select * from {{ ref('fact_prediction_result') }}
    where is_closed = 1 and {{ written_by_this_build('refreshed_at') }}
),
candles as (
    select * from {{ ref('int_backtest_candles_numbered') }}
),
exit_candles as (
    select results.*, candles.open, candles.high, candles.low, candles.close,
           candles.open_time as candle_open_time
    from results
    inner join candles
        on results.symbol_id = candles.symbol_id
        and results.interval_id = candles.interval_id
        and candles.candle_number = results.entry_candle_number + results.bars_held - 1
),
bad_exits as (
    select prediction_id, 'exit candle' as problem
    from exit_candles
    where candle_open_time <> exit_time
       or (outcome = 'TIMEOUT' and (bars_held <> {{ lookahead }} or abs(exit_price - close) > 1e-9 * close))
       or (exit_reason like 'opened%' and abs(exit_price - open) > 1e-9 * open)
       or (outcome in ('WIN', 'LOSS') and exit_reason not like 'opened%'
           and (exit_price < low - 1e-9 * low or exit_price > high + 1e-9 * high))
),
early_touches as (
    -- window positions come from int_backtest_trade_candles; prices and levels are re-read
    select distinct results.prediction_id, 'a level was reached before the exit candle' as problem
    from results
    inner join {{ ref('int_backtest_trade_candles') }} as window_candles
        on results.prediction_id = window_candles.prediction_id
        and window_candles.bar_number < results.bars_held
    inner join candles
        on results.symbol_id = candles.symbol_id
        and results.interval_id = candles.interval_id
        and candles.candle_number = results.entry_candle_number + window_candles.bar_number - 1
    where candles.low <= least(results.tp_price, results.sl_price)
       or candles.high >= greatest(results.tp_price, results.sl_price)
)
select * from bad_exits
union all
select * from early_touches
