-- Equity after every closed trade per scope (each symbol and ALL), fixed-fractional sizing:
-- each trade risks risk_fraction_per_trade of the equity, so equity *= 1 + risk * pnl_r.
{{ config(post_hook=["{{ add_primary_key(['scope', 'trade_number']) }}",
                     "{{ add_index('ix_mart_equity_curve_exit', ['scope', 'exit_time']) }}"]) }}

with trades as (

    select * from {{ ref('int_backtest_trades_scoped') }}

),

{{ backtest_equity_path('trades', ['scope'], 'trade_number', 'equity') }},

final as (

    select
        scope,
        trade_number,
        prediction_id,
        symbol_id,
        interval_id,
        action,
        outcome,
        pnl_r,
        cast(equity as double) as equity,
        cast(peak_equity as double) as peak_equity,
        cast(drawdown_pct as double) as drawdown_pct,
        exit_time
    from equity

)

select * from final
