-- Net PnL is gross minus fees and slippage and pnl_r is pnl_pct over the initial risk
-- (failing rows: arithmetic off by more than 1e-9). Inside a `dbt build` only the results
-- that build wrote (macro written_by_this_build).
select prediction_id
from {{ ref('fact_prediction_result') }}
where is_closed = 1
  and {{ written_by_this_build('refreshed_at') }}
  and (
    abs(pnl_pct - (gross_pnl_pct - fee_pct - slippage_pct)) > 1e-9
    or abs(fee_pct - 100 * {{ backtest_parameter('fee_rate_per_side') }}
           * (entry_price + exit_price) / entry_price) > 1e-9
    or abs(slippage_pct - 100 * {{ backtest_parameter('slippage_rate_per_side') }}
           * (entry_price + exit_price) / entry_price) > 1e-9
    or abs(pnl_r * risk_pct - pnl_pct) > 1e-9
    or (outcome = 'WIN' and gross_pnl_pct <= 0)
    or (outcome = 'LOSS' and gross_pnl_pct >= 0)
  )
