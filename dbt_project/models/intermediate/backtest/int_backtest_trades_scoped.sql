-- Closed trades (WIN, LOSS, TIMEOUT) twice: once in their symbol's scope (scope = symbol_code)
-- and once in the scope ALL, numbered per scope in exit order (exit_time, then prediction_id):
-- the trade sequence every performance mart walks.
--
-- Incremental per scope: the closed trades are compared with the stored rows of scope ALL
-- by prediction_id over every column kept here; the earliest exit_time of a trade that is new,
-- changed (at its old and at its new exit) or gone is where the scope's tail starts. The
-- pre-hook deletes the scope's rows from that exit_time on, and the tail's trades are numbered
-- after the stored trades that exit before it. Those are exactly the trades of a full build
-- that exit before it (any difference among them would have started the tail earlier), so
-- the numbers equal a full build's. New trades usually exit last: a run rewrites a few rows
-- per scope instead of the table (twice the closed trades). A change of this SQL makes the
-- next run a full rebuild by itself.
{%- set compared = ['symbol_id', 'interval_id', 'symbol_code', 'action', 'outcome', 'pnl_pct',
                    'pnl_r', 'bars_held', 'signal_open_time', 'entry_time', 'exit_time',
                    'closed_at'] %}
{{
    config(
        materialized='incremental',
        unique_key=['scope', 'trade_number'],
        on_schema_change='fail',
        rebuild_when_changed={},
        pre_hook=["{{ backtest_delete_tails(backtest_changed_tails(
            backtest_scoped_trades_differing(
            ['symbol_id', 'interval_id', 'symbol_code', 'action', 'outcome', 'pnl_pct', 'pnl_r',
             'bars_held', 'signal_open_time', 'entry_time', 'exit_time', 'closed_at'])),
            'scope', 'exit_time') }}"],
        post_hook=["{{ add_primary_key(['scope', 'trade_number']) }}",
                   "{{ add_index('ix_int_backtest_trades_scoped_prediction', ['prediction_id']) }}",
                   "{{ add_index('ix_int_backtest_trades_scoped_exit', ['scope', 'exit_time']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}
{%- set tails = backtest_changed_tails(
        backtest_scoped_trades_differing(compared)) %}

with scoped as (

    select * from {{ backtest_scoped_trades() }} as scoped
    where {{ backtest_in_tails('scoped', tails, 'scope', 'exit_time') }}

),

{%- if is_incremental() %}
-- per rewritten tail: how many stored trades of the scope exit before it
numbered_before as (

    select stored.scope, count(*) as trades
    from {{ this }} as stored
    where {{ backtest_in_tails('stored', tails, 'scope', 'exit_time', '<') }}
    group by stored.scope

),
{%- endif %}

final as (

    select
        cast(scoped.scope as char(20)) as scope,
        {%- if is_incremental() %}
        coalesce(numbered_before.trades, 0) +
        {%- endif %}
        row_number() over (partition by scoped.scope
                           order by scoped.exit_time, scoped.prediction_id) as trade_number,
        scoped.prediction_id,
        scoped.symbol_id,
        scoped.interval_id,
        scoped.symbol_code,
        scoped.action,
        scoped.outcome,
        scoped.pnl_pct,
        scoped.pnl_r,
        scoped.bars_held,
        scoped.signal_open_time,
        scoped.entry_time,
        scoped.exit_time,
        scoped.closed_at
    from scoped
    {%- if is_incremental() %}
    left join numbered_before
        on numbered_before.scope = scoped.scope
    {%- endif %}

)

select * from final
