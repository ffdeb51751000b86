{# Incremental runs of int_backtest_candles_numbered: the candles where fact_kline and the stored numbered candles differ (new, re-landed with other prices, or gone), as SQL of (symbol_id, interval_id, open_time). #}
{#- Read from fact_kline's change feed: the candles it rewrote after this model's newest row
    (backtest_newest_refreshed_at; parents' rows newer than it have not been read here yet, see
    rows_refreshed_since_this) that are new or carry other prices than the stored ones. That
    finds a late candle filling a gap or one re-landed with other prices wherever it lies, by
    a range of fact_kline's refreshed_at index instead of comparing every candle. A candle
    that vanished leaves no row to find, so each series' candles are also counted: when
    fact_kline's count is not the stored count plus the new candles found, the series is
    renumbered from its first candle (a rare repair; the counts are index scans). -#}
{% macro backtest_changed_candles() %}
    {%- set rewritten -%}
        select klines.symbol_id, klines.interval_id, klines.open_time,
            case when stored.open_time is null then 1 else 0 end as is_new
        from {{ ref('fact_kline') }} as klines
        left join {{ this }} as stored
            on stored.symbol_id = klines.symbol_id
            and stored.interval_id = klines.interval_id
            and stored.open_time = klines.open_time
        where klines.refreshed_at > '{{ backtest_newest_refreshed_at() }}'
            and (stored.open_time is null
                 or not (stored.open <=> klines.open and stored.high <=> klines.high
                         and stored.low <=> klines.low and stored.close <=> klines.close))
    {%- endset -%}
    select rewritten.symbol_id, rewritten.interval_id, rewritten.open_time
    from ({{ rewritten }}) as rewritten
    union all
    select series.symbol_id, series.interval_id, first_candles.open_time
    from (
        select symbol_id, interval_id, max(candle_number) as candles
        from {{ this }}
        group by symbol_id, interval_id
    ) as series
    inner join {{ this }} as first_candles
        on first_candles.symbol_id = series.symbol_id
        and first_candles.interval_id = series.interval_id
        and first_candles.candle_number = 1
    left join (
        select symbol_id, interval_id, count(*) as candles
        from {{ ref('fact_kline') }}
        group by symbol_id, interval_id
    ) as klines
        on klines.symbol_id = series.symbol_id
        and klines.interval_id = series.interval_id
    left join (
        select symbol_id, interval_id, sum(is_new) as candles
        from ({{ rewritten }}) as rewritten
        group by symbol_id, interval_id
    ) as added
        on added.symbol_id = series.symbol_id
        and added.interval_id = series.interval_id
    where coalesce(klines.candles, 0) <> series.candles + coalesce(added.candles, 0)
{% endmacro %}
