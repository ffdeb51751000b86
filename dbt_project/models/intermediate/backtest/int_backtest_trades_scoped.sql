-- Closed trades (WIN, LOSS, TIMEOUT) twice: once in their symbol's scope (scope = symbol_code)
-- and once in the scope ALL, numbered per scope in exit order (exit_time, then prediction_id):
-- the trade sequence every performance mart walks.
{{
    config(
        post_hook=["{{ add_primary_key(['scope', 'trade_number']) }}",
                   "{{ add_index('ix_int_backtest_trades_scoped_prediction', ['prediction_id']) }}"]
    )
}}

with results as (

    select * from {{ ref('fact_prediction_result') }}
    where is_closed = 1

),

symbols as (

    select symbol_id, symbol_code from {{ ref('dim_symbol') }}

),

trades as (

    select
        symbols.symbol_code,
        results.*
    from results
    inner join symbols
        on results.symbol_id = symbols.symbol_id

),

scoped as (

    select symbol_code as scope, trades.* from trades
    union all
    select 'ALL' as scope, trades.* from trades

),

final as (

    select
        cast(scope as char(20)) as scope,
        row_number() over (partition by scope order by exit_time, prediction_id) as trade_number,
        prediction_id,
        symbol_id,
        interval_id,
        symbol_code,
        action,
        outcome,
        pnl_pct,
        pnl_r,
        bars_held,
        signal_open_time,
        entry_time,
        exit_time,
        closed_at
    from scoped

)

select * from final
