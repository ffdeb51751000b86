{# Incremental runs of int_backtest_candles_numbered: the candles where fact_kline and the stored numbered candles differ (new, re-landed with other prices, or gone), as SQL of (symbol_id, interval_id, open_time). #}
{#- A comparison, not a load-time filter: a late candle filling a gap, or one re-landed with
    other prices, is found wherever it lies in the series. -#}
{% macro backtest_changed_candles() %}
    select klines.symbol_id, klines.interval_id, klines.open_time
    from {{ ref('fact_kline') }} as klines
    left join {{ this }} as stored
        on stored.symbol_id = klines.symbol_id
        and stored.interval_id = klines.interval_id
        and stored.open_time = klines.open_time
    where stored.open_time is null
        or not (stored.open <=> klines.open and stored.high <=> klines.high
                and stored.low <=> klines.low and stored.close <=> klines.close)
    union all
    select stored.symbol_id, stored.interval_id, stored.open_time
    from {{ this }} as stored
    left join {{ ref('fact_kline') }} as klines
        on stored.symbol_id = klines.symbol_id
        and stored.interval_id = klines.interval_id
        and stored.open_time = klines.open_time
    where klines.open_time is null
{% endmacro %}
