{%- set n = backtest_parameter('rolling_window_trades') | int -%}
-- Rolling expectancy (mean pnl_r) and win rate over the last {{ n }} closed trades per scope,
-- at every closed trade (window_trades < {{ n }} at the start of a scope's history).
{{ config(post_hook=["{{ add_primary_key(['scope', 'trade_number']) }}",
                     "{{ add_index('ix_mart_rolling_performance_exit', ['scope', 'exit_time']) }}"]) }}

with trades as (

    select * from {{ ref('int_backtest_trades_scoped') }}

),

final as (

    select
        scope,
        trade_number,
        prediction_id,
        pnl_r,
        cast(avg(pnl_r) over last_trades as double) as rolling_expectancy_r,
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

select * from final
