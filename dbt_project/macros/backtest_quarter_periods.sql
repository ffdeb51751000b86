{# A parenthesised query: one row per scope and calendar quarter of the exit in int_backtest_trades_scoped, with the quarter's trade count and a digest of its trades (what mart_walk_forward stores per quarter, to find the first changed quarter). #}
{#- The digest is the sum of a 60-bit slice of each trade's md5 over every column the quarter's
    statistics and equity path read (trade order included); a change of any of them changes
    the sum except with odds of about 2^-60. -#}
{% macro backtest_quarter_periods() %}
    (select
        scope,
        {{ backtest_quarter_start('exit_time') }} as period_start,
        count(*) as trades,
        cast(sum(cast(conv(left(md5(concat_ws('|', trade_number, prediction_id, outcome,
            pnl_r, pnl_pct, bars_held, entry_time, exit_time)), 15), 16, 10) as unsigned))
            as decimal(40, 0)) as trades_digest
    from {{ ref('int_backtest_trades_scoped') }}
    group by scope, period_start)
{% endmacro %}
