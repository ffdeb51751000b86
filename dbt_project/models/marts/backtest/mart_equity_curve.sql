-- Equity after every closed trade per scope (each symbol and ALL), fixed-fractional sizing:
-- each trade risks risk_fraction_per_trade of the equity, so equity *= 1 + risk * pnl_r.
--
-- Incremental per scope: the stored rows are compared with int_backtest_trades_scoped
-- (trade_number, the trade and its pnl_r); from the first trade that differs (new, changed,
-- renumbered or gone) to the end the scope is deleted (pre-hook) and recomputed, continuing
-- the running sum from the stored log_equity and peak_equity of the trade before it (macro
-- backtest_equity_path), which gives the full build's numbers exactly. New trades usually
-- exit last, so a run rewrites a few rows per scope; a trade exiting earlier than stored
-- trades of scope ALL rewrites ALL from there. A change of this SQL or of the starting equity
-- or risk fraction makes the next run a full rebuild by itself.
{%- set compared = ['prediction_id', 'symbol_id', 'interval_id', 'action', 'outcome', 'pnl_r',
                    'exit_time'] %}
{%- set tails = backtest_trade_tails(compared) %}
{{
    config(
        materialized='incremental',
        unique_key=['scope', 'trade_number'],
        on_schema_change='fail',
        rebuild_when_changed={'vars': {
            'starting_equity': backtest_parameter('starting_equity'),
            'risk_fraction_per_trade': backtest_parameter('risk_fraction_per_trade')}},
        pre_hook=["{{ backtest_delete_tails(backtest_trade_tails(
            ['prediction_id', 'symbol_id', 'interval_id', 'action', 'outcome', 'pnl_r',
             'exit_time']), 'scope', 'trade_number') }}"],
        post_hook=["{{ add_primary_key(['scope', 'trade_number']) }}",
                   "{{ add_index('ix_mart_equity_curve_exit', ['scope', 'exit_time']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with trades as (

    select * from {{ ref('int_backtest_trades_scoped') }} as trades
    where {{ backtest_in_tails('trades', tails, 'scope', 'trade_number') }}

),

{%- if is_incremental() %}
-- the stored row just before each rewritten tail: the running state to continue from
seeds as (

    select stored.scope, stored.trade_number, stored.log_equity, stored.peak_equity
    from {{ this }} as stored
    where {{ backtest_in_tails('stored', tails, 'scope', 'trade_number', 'prior') }}

),
{%- endif %}

{{ backtest_equity_path('trades', ['scope'], 'trade_number', 'equity',
                        seeds='seeds' if is_incremental() else none) }},

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
        cast(log_equity as double) as log_equity,
        cast(equity as double) as equity,
        cast(peak_equity as double) as peak_equity,
        cast(drawdown_pct as double) as drawdown_pct,
        exit_time,
        {{ refreshed_at() }} as refreshed_at
    from equity

)

select * from final
