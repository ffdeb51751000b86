-- Closed-trade statistics per scope and market regime of the signal candle (mart_regime).
{{ config(post_hook=["{{ add_primary_key(['scope', 'regime']) }}"]) }}

with trades as (

    select * from {{ ref('int_backtest_trades_scoped') }}

),

regimes as (

    select symbol_id, interval_id, open_time, regime, trend_strength, volatility_state
    from {{ ref('mart_regime') }}

),

trades_in_regime as (

    select
        trades.*,
        coalesce(regimes.regime, 'unknown') as regime,
        case when coalesce(regimes.regime, 'unknown') = 'unknown' then 'unknown'
             else regimes.trend_strength end as trend_strength,
        case when coalesce(regimes.regime, 'unknown') = 'unknown' then 'unknown'
             else regimes.volatility_state end as volatility_state
    from trades
    left join regimes
        on trades.symbol_id = regimes.symbol_id
        and trades.interval_id = regimes.interval_id
        and trades.signal_open_time = regimes.open_time

),

final as (

    select
        scope,
        cast(regime as char(40)) as regime,
        cast(max(trend_strength) as char(20)) as trend_strength,
        cast(max(volatility_state) as char(20)) as volatility_state,
        {{ backtest_trade_stats() }}
    from trades_in_regime
    group by scope, regime

)

select * from final
