-- Walk-forward view: per scope and calendar quarter of the exit, the quarter's closed-trade
-- statistics (out of sample) beside those of all earlier quarters (in sample), and the maximum
-- drawdown of an equity curve restarted at the quarter's start.
{{ config(post_hook=["{{ add_primary_key(['scope', 'period_start']) }}"]) }}

with trades as (

    select
        trades.*,
        cast(concat(year(exit_time), '-', lpad(3 * quarter(exit_time) - 2, 2, '0'), '-01') as date)
            as period_start,
        concat(year(exit_time), '-Q', quarter(exit_time)) as period_label
    from {{ ref('int_backtest_trades_scoped') }} as trades

),

{{ backtest_equity_path('trades', ['scope', 'period_start'], 'trade_number', 'period_equity') }},

periods as (

    select
        scope,
        period_start,
        period_label,
        {{ backtest_trade_stats() }},
        cast(min(drawdown_pct) as double) as max_drawdown_pct
    from period_equity
    group by scope, period_start, period_label

),

with_history as (

    select
        periods.*,
        sum(trades) over earlier as in_sample_trades,
        sum(wins) over earlier as in_sample_wins,
        sum(total_r) over earlier as in_sample_total_r
    from periods
    window earlier as (
        partition by scope order by period_start
        rows between unbounded preceding and 1 preceding
    )

),

final as (

    select
        scope,
        period_start,
        cast(period_label as char(8)) as period_label,
        trades,
        wins,
        losses,
        timeouts,
        win_rate,
        expectancy_r,
        total_r,
        avg_pnl_pct,
        profit_factor,
        sharpe_ratio,
        max_drawdown_pct,
        avg_bars_held,
        cast(coalesce(in_sample_trades, 0) as signed) as in_sample_trades,
        cast(in_sample_wins as double) / nullif(in_sample_trades, 0) as in_sample_win_rate,
        cast(in_sample_total_r / nullif(in_sample_trades, 0) as double) as in_sample_expectancy_r,
        cast(expectancy_r - in_sample_total_r / nullif(in_sample_trades, 0) as double)
            as expectancy_change_r
    from with_history

)

select * from final
