{# The changed tails of a mart that walks int_backtest_trades_scoped in trade order (mart_equity_curve, mart_rolling_performance): per scope, the first trade_number whose trade differs from the stored row in `columns` (backtest_changed_tails of backtest_rows_differing); none on full builds. #}
{% macro backtest_trade_tails(columns) %}
    {{ return(backtest_changed_tails(backtest_rows_differing(
        ref('int_backtest_trades_scoped'), 'scope', 'trade_number', columns))) }}
{% endmacro %}
