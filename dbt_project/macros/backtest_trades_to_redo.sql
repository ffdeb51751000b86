{# SQL of the prediction_ids a per-trade backtest model (int_backtest_trade_candles, fact_prediction_result) redoes on an incremental run: trades int_backtest_trades_entered rewrote, and trades whose window reaches a candle int_backtest_candles_numbered rewrote, since this model's newest refreshed_at. #}
{#- A trade reads its signal candle and the lookahead_candles candles after it (entry candle
    included), so a rewritten candle numbered C changes exactly the trades of its series with
    C - lookahead_candles <= signal_candle_number <= C: new candles redo the last window's
    trades (the PENDING ones among them), a re-landed older candle the trades around it.
    An equality join per offset (index ix_int_backtest_trades_entered_signal), not a range
    join. Parents' rows newer than this model's newest row have not been read by it yet (dbt
    invocations run one after another, parents first; see rows_refreshed_since_this).
    `newest` is the literal from backtest_newest_refreshed_at, taken before the pre-hook
    deletes anything. -#}
{% macro backtest_trades_to_redo(newest) %}
    {%- set lookahead = backtest_parameter('lookahead_candles') | int -%}
    select trades.prediction_id
    from {{ ref('int_backtest_trades_entered') }} as trades
    where trades.refreshed_at > '{{ newest }}'
    union
    select trades.prediction_id
    from {{ ref('int_backtest_candles_numbered') }} as changed
    cross join (select cast(seq as signed) as candle_offset from {{ this.schema }}.seq_0_to_{{ lookahead }}) as offsets
    inner join {{ ref('int_backtest_trades_entered') }} as trades
        on trades.symbol_id = changed.symbol_id
        and trades.interval_id = changed.interval_id
        and trades.signal_candle_number = cast(changed.candle_number as signed) - offsets.candle_offset
    where changed.refreshed_at > '{{ newest }}'
{% endmacro %}
