{%- set n = backtest_parameter('rolling_window_trades') | int -%}
-- Rolling expectancy (mean pnl_r) and win rate over the last {{ n }} closed trades per scope,
-- at every closed trade (window_trades < {{ n }} at the start of a scope's history).
--
-- Incremental per scope, like mart_equity_curve: the stored rows are compared with
-- int_backtest_trades_scoped (trade number, trade, pnl_r, outcome, exit time); from the first
-- trade that differs to the end the scope is deleted (pre-hook) and recomputed, reading the
-- {{ n - 1 }} trades before it for the first windows. The mean is taken over exact decimals:
-- MariaDB's moving avg() adds the row entering a window and subtracts the row leaving it, so
-- a double mean would carry the rounding of every trade since the read started and differ
-- from a full build in the last bits. A change of this SQL or of the window makes the next
-- run a full rebuild by itself.
{%- set compared = ['prediction_id', 'pnl_r', 'outcome', 'exit_time'] %}
{%- set tails = backtest_trade_tails(compared) %}
{{
    config(
        materialized='incremental',
        unique_key=['scope', 'trade_number'],
        on_schema_change='fail',
        rebuild_when_changed={'vars': {'rolling_window_trades': n}},
        pre_hook=["{{ backtest_delete_tails(backtest_trade_tails(
            ['prediction_id', 'pnl_r', 'outcome', 'exit_time']), 'scope', 'trade_number') }}"],
        post_hook=["{{ add_primary_key(['scope', 'trade_number']) }}",
                   "{{ add_index('ix_mart_rolling_performance_exit', ['scope', 'exit_time']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with trades as (

    select * from {{ ref('int_backtest_trades_scoped') }} as trades
    where {{ backtest_in_tails('trades', tails, 'scope', 'trade_number', lookback=n - 1) }}

),

rolling as (

    select
        scope,
        trade_number,
        prediction_id,
        outcome,
        pnl_r,
        cast(avg(cast(pnl_r as decimal(38, 20))) over last_trades as double)
            as rolling_expectancy_r,
        avg(case when outcome = 'WIN' then 1e0 else 0e0 end) over last_trades
            as rolling_win_rate,
        count(*) over last_trades as window_trades,
        exit_time
    from trades
    window last_trades as (
        partition by scope order by trade_number
        rows between {{ n - 1 }} preceding and current row
    )

)

select * from rolling
where {{ backtest_in_tails('rolling', tails, 'scope', 'trade_number') }}
