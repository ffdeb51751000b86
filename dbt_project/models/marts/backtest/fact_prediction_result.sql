-- The backtested outcome of every LONG or SHORT prediction (semantics in _backtest__models.yml).
--
-- Incremental per trade, like int_backtest_trade_candles: the trades whose entry or window
-- changed since this model's newest row (macro backtest_trades_to_redo; PENDING trades are
-- among them exactly when a candle of their window arrived) are deleted (pre-hook) and
-- re-evaluated, trades no longer entered deleted. A change of this SQL, of dim_interval or of
-- the backtest's trade parameters (ATR code, TP/SL multiples, lookahead, fee, slippage) makes
-- the next run a full rebuild by itself.
-- depends_on: {{ ref('int_backtest_candles_numbered') }}, {{ ref('dim_interval') }}
{%- set newest = backtest_newest_refreshed_at() %}
{{
    config(
        materialized='incremental',
        unique_key=['prediction_id'],
        on_schema_change='fail',
        rebuild_when_changed={'relations': ['dim_interval'],
                              'vars': backtest_trade_parameters(with_costs=true)},
        pre_hook=["{{ backtest_delete_trades(backtest_newest_refreshed_at()) }}",
                  "{{ backtest_delete_vanished_trades(ref('int_backtest_trades_entered')) }}"],
        post_hook=["{{ add_primary_key(['prediction_id']) }}",
                   "{{ add_index('ix_fact_prediction_result_entry', ['symbol_id', 'interval_id', 'entry_time']) }}",
                   "{{ add_index('ix_fact_prediction_result_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set lookahead = backtest_parameter('lookahead_candles') | int %}

with trades as (

    select trades.*
    from {{ ref('int_backtest_trades_entered') }} as trades
    {%- if newest is not none %}
    -- a join, not `in (select ... union ...)`, which MariaDB runs once per trade
    inner join ({{ backtest_trades_to_redo(newest) }}) as redo
        on redo.prediction_id = trades.prediction_id
    {%- endif %}

),

window_candles as (

    select window_candles.*
    from {{ ref('int_backtest_trade_candles') }} as window_candles
    {%- if newest is not none %}
    inner join trades
        on trades.prediction_id = window_candles.prediction_id
    {%- endif %}

),

windows as (

    select
        prediction_id,
        count(*) as available_bars,
        min(case when exit_rule is not null then bar_number end) as first_exit_bar_number
    from window_candles
    group by prediction_id

),

-- The bar that closes the trade: the first bar reaching a level, else the window's last bar
-- once the whole window is in the data (TIMEOUT); null while the window is incomplete.
exit_bars as (

    select
        trades.*,
        coalesce(windows.available_bars, 0) as available_bars,
        coalesce(
            windows.first_exit_bar_number,
            case when windows.available_bars = {{ lookahead }} then {{ lookahead }} end
        ) as exit_bar_number
    from trades
    left join windows
        on trades.prediction_id = windows.prediction_id

),

exits as (

    select
        exit_bars.*,
        case
            when coalesce(exit_bars.atr_value, 0) <= 0 then 'NO_ATR'
            when exit_bars.exit_bar_number is null then 'PENDING'
            when window_candles.exit_rule in (1, 3) then 'LOSS'
            when window_candles.exit_rule in (2, 4) then 'WIN'
            else 'TIMEOUT'
        end as outcome,
        case
            when coalesce(exit_bars.atr_value, 0) <= 0
                then 'no ATR at the signal candle: no levels, not traded'
            when exit_bars.exit_bar_number is null then null
            when window_candles.exit_rule = 1 then 'opened at or beyond the stop-loss'
            when window_candles.exit_rule = 2 then 'opened at or beyond the take-profit'
            when window_candles.exit_rule = 3 and window_candles.is_both_levels_in_range = 1
                then 'both levels in one candle: stop-loss assumed first'
            when window_candles.exit_rule = 3 then 'stop-loss reached'
            when window_candles.exit_rule = 4 then 'take-profit reached'
            else 'window ended without reaching a level'
        end as exit_reason,
        case
            when window_candles.exit_rule in (1, 2) then cast(window_candles.open as double)
            when window_candles.exit_rule = 3 then exit_bars.sl_price
            when window_candles.exit_rule = 4 then exit_bars.tp_price
            when exit_bars.exit_bar_number is not null then cast(window_candles.close as double)
        end as exit_price,
        case
            when window_candles.exit_rule in (1, 2) then window_candles.open_time
            else window_candles.close_at
        end as closed_at,
        window_candles.open_time as exit_time
    from exit_bars
    left join window_candles
        on exit_bars.prediction_id = window_candles.prediction_id
        and exit_bars.exit_bar_number = window_candles.bar_number

),

pnl as (

    select
        exits.*,
        100 * direction_sign * (exit_price - entry_price) / entry_price as gross_pnl_pct,
        100 * {{ backtest_parameter('fee_rate_per_side') }} * (entry_price + exit_price)
            / entry_price as fee_pct,
        100 * {{ backtest_parameter('slippage_rate_per_side') }} * (entry_price + exit_price)
            / entry_price as slippage_pct,
        100 * abs(entry_price - sl_price) / entry_price as risk_pct
    from exits

),

final as (

    select
        prediction_id,
        symbol_id,
        interval_id,
        action,
        cast(outcome as char(8)) as outcome,
        cast(exit_reason as char(64)) as exit_reason,
        direction_sign,
        signal_candle_number,
        entry_candle_number,
        atr_value,
        entry_price,
        tp_price,
        sl_price,
        exit_price,
        cast(exit_bar_number as signed) as bars_held,
        cast(available_bars as signed) as available_bars,
        gross_pnl_pct,
        fee_pct,
        slippage_pct,
        gross_pnl_pct - fee_pct - slippage_pct as pnl_pct,
        risk_pct,
        (gross_pnl_pct - fee_pct - slippage_pct) / risk_pct as pnl_r,
        case when outcome in ('WIN', 'LOSS', 'TIMEOUT') then 1 else 0 end as is_closed,
        signal_open_time,
        entry_time,
        exit_time,
        closed_at,
        {{ refreshed_at() }} as refreshed_at
    from pnl

)

select * from final
