{# Pre-hook of the per-trade backtest models: delete the stored rows of the trades redone this run (backtest_trades_to_redo); `do 0` on full builds. A join to a derived table that does not read this model (`where ... in (select ...)` on it would run as a dependent subquery). #}
{% macro backtest_delete_trades(newest) %}
    {%- if newest is none -%}
        do 0
    {%- else -%}
        delete {{ this }}
        from {{ this }}
        inner join ({{ backtest_trades_to_redo(newest) }}) as redo
            on redo.prediction_id = {{ this }}.prediction_id
    {%- endif -%}
{% endmacro %}
