{# Pre-hook of int_backtest_candles_numbered: delete the stored numbers past the end of their series in fact_kline (a candle gone from fact_kline, or its whole series); `do 0` on full builds. #}
{% macro backtest_delete_numbers_past_the_end() %}
    {%- if not (execute and is_incremental()) -%}
        do 0
    {%- else -%}
        delete {{ this }}
        from {{ this }}
        left join (
            select symbol_id, interval_id, count(*) as candles
            from {{ ref('fact_kline') }}
            group by symbol_id, interval_id
        ) as series
            on series.symbol_id = {{ this }}.symbol_id
            and series.interval_id = {{ this }}.interval_id
        where series.candles is null or {{ this }}.candle_number > series.candles
    {%- endif -%}
{% endmacro %}
