"""An independent, loop-by-loop recomputation of the backtest's trade outcomes and equity
arithmetic, written from the semantics in the issue (not from the SQL), to check the dbt models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TP_ATR = 2.0
SL_ATR = 1.0
LOOKAHEAD = 24
FEE = 0.001
SLIPPAGE = 0.0002


@dataclass(frozen=True)
class Candle:
    open_time: object
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True)
class Trade:
    outcome: str
    entry_time: object = None
    entry_price: float | None = None
    tp_price: float | None = None
    sl_price: float | None = None
    exit_time: object = None
    exit_price: float | None = None
    bars_held: int | None = None
    pnl_pct: float | None = None
    pnl_r: float | None = None


def evaluate(action: str, series: list[Candle], signal_index: int, atr: float | None,
             tp_atr: float = TP_ATR, sl_atr: float = SL_ATR, lookahead: int = LOOKAHEAD,
             fee: float = FEE, slippage: float = SLIPPAGE) -> Trade:
    """The outcome of a LONG/SHORT signal at ``series[signal_index]`` (series in time order)."""
    if signal_index + 1 >= len(series):
        return Trade("NO_ATR" if atr is None or not atr > 0 else "PENDING")
    entry = series[signal_index + 1]
    e = entry.open
    if atr is None or not atr > 0:
        return Trade("NO_ATR", entry_time=entry.open_time, entry_price=e)
    long = action == "LONG"
    tp = e + tp_atr * atr if long else e - tp_atr * atr
    sl = e - sl_atr * atr if long else e + sl_atr * atr
    window = series[signal_index + 1:signal_index + 1 + lookahead]

    def beyond_sl(price: float) -> bool:
        return price <= sl if long else price >= sl

    def beyond_tp(price: float) -> bool:
        return price >= tp if long else price <= tp

    base = {"entry_time": entry.open_time, "entry_price": e, "tp_price": tp, "sl_price": sl}
    exit_ = None
    for bars, c in enumerate(window, start=1):
        adverse, favourable = (c.low, c.high) if long else (c.high, c.low)
        if beyond_sl(c.open):
            exit_ = ("LOSS", c.open, c, bars)
        elif beyond_tp(c.open):
            exit_ = ("WIN", c.open, c, bars)
        elif beyond_sl(adverse):
            exit_ = ("LOSS", sl, c, bars)
        elif beyond_tp(favourable):
            exit_ = ("WIN", tp, c, bars)
        if exit_:
            break
    if exit_ is None:
        if len(window) < lookahead:
            return Trade("PENDING", **base)
        exit_ = ("TIMEOUT", window[-1].close, window[-1], lookahead)
    outcome, x, candle, bars = exit_
    sign = 1 if long else -1
    gross = sign * (x - e) / e
    costs = (fee + slippage) * (e + x) / e
    pnl_pct = 100 * (gross - costs)
    risk_pct = 100 * abs(e - sl) / e
    return Trade(outcome, exit_time=candle.open_time, exit_price=x, bars_held=bars,
                 pnl_pct=pnl_pct, pnl_r=pnl_pct / risk_pct, **base)


def equity_curve(pnl_r: list[float], start: float = 10_000.0, risk: float = 0.01):
    """(equity, peak, drawdown_pct) after each trade, fixed-fractional: equity *= 1 + risk*R."""
    rows, equity, peak = [], start, start
    for r in pnl_r:
        equity *= 1 + risk * r
        peak = max(peak, equity)
        rows.append((equity, peak, 100 * (equity / peak - 1)))
    return rows


def close(a: float | None, b: float | None, rel: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
