{# SQL of the signal candles (symbol_id, interval_id, open_time; distinct) whose trade int_backtest_trades_entered recomputes on an incremental run: what its parents rewrote after `newest` (this model's newest refreshed_at, a literal), and the stored trades whose entry candle is past their series' end. #}
{#- A trade reads its prediction, its signal candle, the candle numbered one after it (the
    entry) and the ATR at the signal candle. Parents' rows newer than this model's newest row
    have not been read by it yet (dbt invocations run one after another, parents first; see
    rows_refreshed_since_this), so these are the only trades that can differ from the stored
    ones: a new or changed prediction (fact_prediction), a signal or entry candle new,
    re-landed or renumbered (int_backtest_candles_numbered; a changed candle numbered C is the
    entry of the signal numbered C - 1), an ATR value Spark changed (fact_indicator). A
    candle can also vanish without a trace in the change feed (its number past a shorter
    series' end is deleted): the stored trades whose entry number is past the end are redone
    too, their entry becoming null. Each part is an index range or lookup. -#}
{% macro backtest_entered_signals_to_redo(newest) %}
    select symbol_id, interval_id, open_time
    from {{ ref('fact_prediction') }}
    where refreshed_at > '{{ newest }}'
    union
    select symbol_id, interval_id, open_time
    from {{ ref('int_backtest_candles_numbered') }}
    where refreshed_at > '{{ newest }}'
    union
    select signal_candles.symbol_id, signal_candles.interval_id, signal_candles.open_time
    from {{ ref('int_backtest_candles_numbered') }} as changed
    inner join {{ ref('int_backtest_candles_numbered') }} as signal_candles
        on signal_candles.symbol_id = changed.symbol_id
        and signal_candles.interval_id = changed.interval_id
        and signal_candles.candle_number = changed.candle_number - 1
    where changed.refreshed_at > '{{ newest }}'
    union
    select indicators.symbol_id, indicators.interval_id, indicators.open_time
    from {{ ref('fact_indicator') }} as indicators
    inner join {{ ref('dim_indicator_type') }} as indicator_types
        on indicators.indicator_type_id = indicator_types.indicator_type_id
    where indicators.refreshed_at > '{{ newest }}'
        and indicator_types.indicator_code = '{{ backtest_parameter("atr_indicator_code") }}'
    union
    select stored.symbol_id, stored.interval_id, stored.signal_open_time
    from {{ this }} as stored
    left join (
        select symbol_id, interval_id, max(candle_number) as last_number
        from {{ ref('int_backtest_candles_numbered') }}
        group by symbol_id, interval_id
    ) as series
        on series.symbol_id = stored.symbol_id
        and series.interval_id = stored.interval_id
    where stored.entry_candle_number > coalesce(series.last_number, 0)
{% endmacro %}
