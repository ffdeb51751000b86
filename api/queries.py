"""Every SQL statement the API runs, in one place, so warehouse renames are a one-file change.

Rules: values are always bound (pymysql ``%s``); the only text formatted into a statement is
a run of ``%s`` placeholders for an IN list and the staging database's name, which comes from
Settings (never from a request) and is checked against a strict pattern before use.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def placeholders(n: int) -> str:
    """``%s, %s, ...`` for an IN list of n bound values."""
    return ", ".join(["%s"] * n)


def quoted_database(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    return f"`{name}`"


SYMBOLS = """
select symbol_id, symbol_code, base_asset, quote_asset
from dim_symbol
order by symbol_code
"""

INTERVALS = """
select interval_id, interval_code, interval_seconds
from dim_interval
order by interval_seconds
"""

INDICATOR_TYPES = """
select indicator_type_id, indicator_code, indicator_name
from dim_indicator_type
order by indicator_code
"""

# The newest `limit` candles in [start, end), newest first (the caller reverses them).
KLINES = """
select open_time, open, high, low, close, volume, is_placeholder_candle
from fact_kline
where symbol_id = %s and interval_id = %s and open_time >= %s and open_time < %s
order by open_time desc
limit %s
"""

# Indicator values of a series in [first, last]; {codes} is a run of placeholders.
INDICATORS = """
select t.indicator_code, f.open_time, f.indicator_value
from fact_indicator f
join dim_indicator_type t on t.indicator_type_id = f.indicator_type_id
where f.symbol_id = %s and f.interval_id = %s and f.open_time between %s and %s
  and t.indicator_code in ({codes})
"""

# The `limit` newest predictions per symbol of one interval; {symbols} is a run of placeholders.
LATEST_SIGNALS = """
select symbol_code, interval_code, prediction_id, open_time, predicting_at,
       trend_score, momentum_score, volume_score, volatility_score, market_score,
       max_possible_score, direction, confidence_score, is_conflict, conflict_reason,
       is_weak_edge, weak_edge_reason, is_outside_confidence_band, confidence_band_reason,
       is_no_trade, no_trade_reason, action, action_reason
from (
    select s.symbol_code, i.interval_code, p.*,
           row_number() over (partition by p.symbol_id order by p.open_time desc) as rn
    from fact_prediction p
    join dim_symbol s on s.symbol_id = p.symbol_id
    join dim_interval i on i.interval_id = p.interval_id
    where p.interval_id = %s and p.symbol_id in ({symbols})
) ranked
where rn <= %s
order by symbol_code, open_time desc
"""

TRADES = """
select s.symbol_code, i.interval_code, r.prediction_id, r.action, r.signal_open_time,
       r.entry_time, r.entry_price, r.tp_price, r.sl_price, r.exit_time, r.exit_price, r.outcome,
       r.exit_reason, r.is_closed, r.bars_held, r.gross_pnl_pct, r.pnl_pct, r.risk_pct, r.pnl_r
from fact_prediction_result r
join dim_symbol s on s.symbol_id = r.symbol_id
join dim_interval i on i.interval_id = r.interval_id
where r.symbol_id = %s and r.interval_id = %s and r.entry_time >= %s and r.entry_time < %s
  and r.outcome in ({outcomes})
order by r.entry_time desc
limit %s
"""

EQUITY = """
select scope, exit_time, trade_number, prediction_id, action, outcome, pnl_r, equity,
       peak_equity, drawdown_pct
from mart_equity_curve
where scope = %s and exit_time >= %s and exit_time < %s
order by exit_time, trade_number
limit %s
"""

ROLLING = """
select scope, exit_time, trade_number, rolling_expectancy_r, rolling_win_rate, window_trades
from mart_rolling_performance
where scope = %s and exit_time >= %s and exit_time < %s
order by exit_time, trade_number
limit %s
"""

REGIMES = """
select open_time, regime, trend_strength, volatility_state, adx_14, ema_slope_pct, atr_pct,
       atr_pct_ratio, bb_width
from mart_regime
where symbol_id = %s and interval_id = %s and open_time >= %s and open_time < %s
order by open_time desc
limit %s
"""

REGRESSION = """
select g.open_time, k.close, g.fitted_close, g.upper_band, g.lower_band, g.window_candles,
       g.slope, g.slope_pct, g.r_squared, g.residual_std, g.residual_zscore
from mart_price_regression g
join fact_kline k
  on k.symbol_id = g.symbol_id and k.interval_id = g.interval_id and k.open_time = g.open_time
where g.symbol_id = %s and g.interval_id = %s and g.open_time >= %s and g.open_time < %s
order by g.open_time desc
limit %s
"""

RULES = """
select antecedent, consequent, antecedent_count, win_count, support, confidence, lift,
       base_win_rate, p_value, q_value, is_significant, oos_antecedent_count, oos_win_count,
       oos_support, oos_confidence, oos_lift, run_id, mined_at
from fp_growth_win_rules
where is_significant in ({significance})
order by lift desc, confidence desc
limit %s
"""

LAST_CANDLES = """
select s.symbol_code, i.interval_code, i.interval_seconds, last.last_open_time
from (
    select symbol_id, interval_id, max(open_time) as last_open_time
    from fact_kline
    group by symbol_id, interval_id
) last
join dim_symbol s on s.symbol_id = last.symbol_id
join dim_interval i on i.interval_id = last.interval_id
order by s.symbol_code, i.interval_seconds
"""

# {staging} is the quoted staging database name from Settings.
LAST_PIPELINE_RUN = """
select run_id, step, status, started_at, finished_at
from {staging}.pipeline_runs
where run_id = (select run_id from {staging}.pipeline_runs order by started_at desc limit 1)
order by started_at
"""
