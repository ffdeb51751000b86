{# Aggregate select list of closed-trade statistics (rows with outcome, pnl_pct, pnl_r, bars_held); use with a group by. #}
{% macro backtest_trade_stats() %}
        count(*) as trades,
        cast(sum(case when outcome = 'WIN' then 1 else 0 end) as signed) as wins,
        cast(sum(case when outcome = 'LOSS' then 1 else 0 end) as signed) as losses,
        cast(sum(case when outcome = 'TIMEOUT' then 1 else 0 end) as signed) as timeouts,
        avg(case when outcome = 'WIN' then 1e0 else 0e0 end) as win_rate,
        cast(avg(pnl_r) as double) as expectancy_r,
        cast(sum(pnl_r) as double) as total_r,
        cast(avg(pnl_pct) as double) as avg_pnl_pct,
        cast(sum(case when pnl_pct > 0 then pnl_pct else 0 end)
            / nullif(-sum(case when pnl_pct < 0 then pnl_pct else 0 end), 0) as double)
            as profit_factor,
        cast(avg(pnl_pct) / nullif(stddev_samp(pnl_pct), 0) as double) as sharpe_ratio,
        avg(cast(bars_held as double)) as avg_bars_held
{%- endmacro %}
