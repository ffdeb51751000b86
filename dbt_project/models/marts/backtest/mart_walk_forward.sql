-- Walk-forward view: per scope and calendar quarter of the exit, the quarter's closed-trade
-- statistics (out of sample) beside those of all earlier quarters (in sample), and the maximum
-- drawdown of an equity curve restarted at the quarter's start.
--
-- Incremental per scope: each quarter stores its trade count and a digest of its trades
-- (macro backtest_quarter_periods); from the first quarter whose count or digest differs from
-- int_backtest_trades_scoped (or that is new or gone) to the end the scope's quarters are
-- deleted (pre-hook) and recomputed from their trades. The in-sample sums continue from the
-- stored sums of the quarter before (in_sample_* plus its own), added in the same order as
-- a full build does. A change of this SQL or of the starting equity or risk fraction makes
-- the next run a full rebuild by itself.
{%- set tails = backtest_changed_tails(backtest_rows_differing(
        backtest_quarter_periods(), 'scope', 'period_start', ['trades', 'trades_digest'])) %}
{{
    config(
        materialized='incremental',
        unique_key=['scope', 'period_start'],
        on_schema_change='fail',
        rebuild_when_changed={'vars': {
            'starting_equity': backtest_parameter('starting_equity'),
            'risk_fraction_per_trade': backtest_parameter('risk_fraction_per_trade')}},
        pre_hook=["{{ backtest_delete_tails(backtest_changed_tails(backtest_rows_differing(
            backtest_quarter_periods(), 'scope', 'period_start', ['trades', 'trades_digest'])),
            'scope', 'period_start') }}"],
        post_hook=["{{ add_primary_key(['scope', 'period_start']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with trades as (

    select
        trades.*,
        {{ backtest_quarter_start('exit_time') }} as period_start,
        concat(year(exit_time), '-Q', quarter(exit_time)) as period_label
    from {{ ref('int_backtest_trades_scoped') }} as trades
    -- a quarter starts at midnight of its first day: its trades exit at or after it
    where {{ backtest_in_tails('trades', tails, 'scope', 'exit_time') }}

),

digests as (

    select * from {{ backtest_quarter_periods() }} as digests
    where {{ backtest_in_tails('digests', tails, 'scope', 'period_start') }}

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

-- the running in-sample sums over the quarters in order; on incremental runs the stored
-- quarter before the rewritten ones enters first with its in-sample sums (step 0) and its
-- own figures (step 1), so the sums go on by the same additions as in a full build
history_steps as (

    {%- if is_incremental() %}
    select scope, period_start, 0 as step, coalesce(in_sample_trades, 0) as trades,
           coalesce(in_sample_wins, 0) as wins, coalesce(in_sample_total_r, 0) as total_r
    from {{ this }} as stored
    where {{ backtest_in_tails('stored', tails, 'scope', 'period_start', 'prior') }}
    union all
    select scope, period_start, 1 as step, trades, wins, total_r
    from {{ this }} as stored
    where {{ backtest_in_tails('stored', tails, 'scope', 'period_start', 'prior') }}
    union all
    {%- endif %}
    select scope, period_start, 2 as step, trades, wins, total_r
    from periods

),

history as (

    select
        scope,
        period_start,
        step,
        sum(trades) over earlier as in_sample_trades,
        sum(wins) over earlier as in_sample_wins,
        sum(total_r) over earlier as in_sample_total_r
    from history_steps
    window earlier as (
        partition by scope order by period_start, step
        rows between unbounded preceding and 1 preceding
    )

),

with_history as (

    select
        periods.*,
        history.in_sample_trades,
        history.in_sample_wins,
        history.in_sample_total_r,
        digests.trades_digest
    from periods
    inner join history
        on periods.scope = history.scope
        and periods.period_start = history.period_start
        and history.step = 2
    inner join digests
        on periods.scope = digests.scope
        and periods.period_start = digests.period_start

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
        cast(coalesce(in_sample_wins, 0) as signed) as in_sample_wins,
        cast(in_sample_total_r as double) as in_sample_total_r,
        cast(in_sample_wins as double) / nullif(in_sample_trades, 0) as in_sample_win_rate,
        cast(in_sample_total_r / nullif(in_sample_trades, 0) as double) as in_sample_expectancy_r,
        cast(expectancy_r - in_sample_total_r / nullif(in_sample_trades, 0) as double)
            as expectancy_change_r,
        trades_digest,
        {{ refreshed_at() }} as refreshed_at
    from with_history

)

select * from final
