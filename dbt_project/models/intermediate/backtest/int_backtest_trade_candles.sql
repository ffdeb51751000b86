-- Every candle of every trade's lookahead window (the entry candle and the candles after it,
-- at most lookahead_candles of them) with the exit rule it triggers, if any: 1 opens at or
-- beyond SL, 2 opens at or beyond TP, 3 range reaches SL (even if it also reaches TP), 4 range
-- reaches TP. Trades without ATR have no window.
{{
    config(
        post_hook=["{{ add_primary_key(['prediction_id', 'bar_number']) }}"]
    )
}}

{%- set lookahead = backtest_parameter('lookahead_candles') | int %}

with recursive bar_offsets (bar_offset) as (

    select 0
    union all
    select bar_offset + 1 from bar_offsets where bar_offset < {{ lookahead - 1 }}

),

trades as (

    select * from {{ ref('int_backtest_trades_entered') }}

),

candles as (

    select * from {{ ref('int_backtest_candles_numbered') }}

),

final as (

    select
        trades.prediction_id,
        bar_offsets.bar_offset + 1 as bar_number,
        candles.open,
        candles.close,
        case
            when {{ backtest_reaches('trades.action', 'candles.open', 'trades.sl_price', 'sl') }}
                then 1
            when {{ backtest_reaches('trades.action', 'candles.open', 'trades.tp_price', 'tp') }}
                then 2
            when {{ backtest_reaches('trades.action',
                    "case when trades.action = 'LONG' then candles.low else candles.high end",
                    'trades.sl_price', 'sl') }}
                then 3
            when {{ backtest_reaches('trades.action',
                    "case when trades.action = 'LONG' then candles.high else candles.low end",
                    'trades.tp_price', 'tp') }}
                then 4
        end as exit_rule,
        case when {{ backtest_reaches('trades.action',
                    "case when trades.action = 'LONG' then candles.high else candles.low end",
                    'trades.tp_price', 'tp') }}
                  and {{ backtest_reaches('trades.action',
                    "case when trades.action = 'LONG' then candles.low else candles.high end",
                    'trades.sl_price', 'sl') }}
             then 1 else 0 end as is_both_levels_in_range,
        candles.open_time,
        candles.close_at
    from trades
    cross join bar_offsets
    -- an equality join per window position (a range join on candle_number scans the series)
    inner join candles
        on trades.symbol_id = candles.symbol_id
        and trades.interval_id = candles.interval_id
        and candles.candle_number = trades.entry_candle_number + bar_offsets.bar_offset
    where trades.atr_value > 0
)

select * from final
