-- Closed-trade statistics per scope and calendar month of the exit (UTC).
{{ config(post_hook=["{{ add_primary_key(['scope', 'month_start']) }}"]) }}

with trades as (

    select
        trades.*,
        cast(date_format(exit_time, '%Y-%m-01') as date) as month_start
    from {{ ref('int_backtest_trades_scoped') }} as trades

),

final as (

    select
        scope,
        month_start,
        {{ backtest_trade_stats() }}
    from trades
    group by scope, month_start

)

select * from final
