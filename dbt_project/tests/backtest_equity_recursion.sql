-- Each equity point is the previous one times max(1 + risk x pnl_r, 1e-12) (the floor is ruin),
-- starting from the starting equity, and the summary's trade count and drawdown match the
-- curve (failing rows: breaks). The curve's state is log_equity, the running sum of the
-- logs of those factors, checked at every step; equity, derived from it, is checked in its
-- own terms only while it and its predecessor are normal doubles: in a long ruin it passes
-- through the subnormal range (relative precision far below 1e-9) and then underflows to 0.
{%- set risk = backtest_parameter('risk_fraction_per_trade') %}
{%- set start = backtest_parameter('starting_equity') %}
with curve as (
    select
        scope,
        trade_number,
        equity,
        pnl_r,
        log_equity,
        greatest(1 + {{ risk }} * pnl_r, 1e-12) as factor,
        coalesce(lag(equity) over (partition by scope order by trade_number), {{ start }})
            as previous_equity,
        coalesce(lag(log_equity) over (partition by scope order by trade_number), 0)
            as previous_log_equity
    from {{ ref('mart_equity_curve') }}
),
bad_steps as (
    select scope, trade_number, 'equity step' as problem
    from curve
    where abs(log_equity - previous_log_equity - ln(factor)) > 1e-9 * greatest(1, abs(log_equity))
       or (least(equity, previous_equity) >= 2.2250738585072014e-308
           and abs(equity - previous_equity * factor) > 1e-9 * equity)
),
curve_stats as (
    select scope, max(trade_number) as trades, min(drawdown_pct) as max_drawdown_pct
    from {{ ref('mart_equity_curve') }}
    group by scope
),
bad_summary as (
    select summary.scope, summary.trades as trade_number, 'summary vs curve' as problem
    from {{ ref('mart_backtest_summary') }} as summary
    left join curve_stats
        on summary.scope = curve_stats.scope
    where curve_stats.scope is null
       or summary.trades <> curve_stats.trades
       or abs(summary.max_drawdown_pct - curve_stats.max_drawdown_pct) > 1e-9
)
select * from bad_steps
union all
select * from bad_summary
