-- One row per scope (each symbol and ALL): closed-trade statistics over the whole history, the
-- open trades, and the equity curve's end and maximum drawdown.
{{ config(post_hook=["{{ add_primary_key(['scope']) }}"]) }}

with trades as (

    select * from {{ ref('int_backtest_trades_scoped') }}

),

equity as (

    select * from {{ ref('mart_equity_curve') }}

),

results as (

    select * from {{ ref('fact_prediction_result') }}

),

symbols as (

    select symbol_id, symbol_code from {{ ref('dim_symbol') }}

),

trade_stats as (

    select
        scope,
        {{ backtest_trade_stats() }},
        min(entry_time) as first_entry_time,
        max(exit_time) as last_exit_time
    from trades
    group by scope

),

equity_stats as (

    select
        equity.scope,
        min(equity.drawdown_pct) as max_drawdown_pct,
        max(case when equity.trade_number = last_trades.trade_number then equity.equity end)
            as final_equity
    from equity
    inner join (
        select scope, max(trade_number) as trade_number from equity group by scope
    ) as last_trades
        on equity.scope = last_trades.scope
    group by equity.scope

),

open_trades as (

    select
        symbols.symbol_code as scope,
        count(*) as pending_trades
    from results
    inner join symbols
        on results.symbol_id = symbols.symbol_id
    where results.outcome = 'PENDING'
    group by symbols.symbol_code
    union all
    select 'ALL' as scope, count(*) as pending_trades
    from results
    where outcome = 'PENDING'

),

final as (

    select
        trade_stats.scope,
        symbols.symbol_id,
        trade_stats.trades,
        trade_stats.wins,
        trade_stats.losses,
        trade_stats.timeouts,
        cast(coalesce(open_trades.pending_trades, 0) as signed) as pending_trades,
        trade_stats.win_rate,
        trade_stats.expectancy_r,
        trade_stats.total_r,
        trade_stats.avg_pnl_pct,
        trade_stats.profit_factor,
        trade_stats.sharpe_ratio,
        cast(equity_stats.max_drawdown_pct as double) as max_drawdown_pct,
        cast(equity_stats.final_equity as double) as final_equity,
        trade_stats.avg_bars_held,
        trade_stats.first_entry_time,
        trade_stats.last_exit_time
    from trade_stats
    inner join equity_stats
        on trade_stats.scope = equity_stats.scope
    left join open_trades
        on trade_stats.scope = open_trades.scope
    left join symbols
        on trade_stats.scope = symbols.symbol_code

)

select * from final
