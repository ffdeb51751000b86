{# Select from `relation` (rows with pnl_r) adding the fixed-fractional equity path per partition in trade order: equity, peak_equity, drawdown_pct. #}
{% macro backtest_equity_path(relation, partition_by, order_by) %}
    {%- set start = backtest_parameter('starting_equity') -%}
    {%- set risk = backtest_parameter('risk_fraction_per_trade') -%}
    {%- set running = 'partition by ' ~ partition_by ~ ' order by ' ~ order_by
        ~ ' rows between unbounded preceding and current row' -%}
select
    with_peak.*,
    100 * (with_peak.equity / with_peak.peak_equity - 1) as drawdown_pct
from (
    select
        with_equity.*,
        greatest({{ start }}, max(with_equity.equity) over ({{ running }})) as peak_equity
    from (
        select
            trades.*,
            -- equity after the trade: start * product of (1 + risk * R), as a sum of logs
            -- (a loss of 100% of equity or more floors the factor at 1e-12, i.e. ruin)
            {{ start }} * exp(sum(ln(greatest(1 + {{ risk }} * trades.pnl_r, 1e-12)))
                over ({{ running }})) as equity
        from {{ relation }} as trades
    ) as with_equity
) as with_peak
{% endmacro %}
