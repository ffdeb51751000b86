"""Synthetic closed trades in the long layout of ``fp_growth_transactions``."""

from __future__ import annotations

import numpy as np
import pandas as pd

STATES = {
    "symbol": ["BTCUSDT", "ETHUSDT", "BNBUSDT"],
    "side": ["LONG", "SHORT"],
    "rsi": ["oversold", "weak", "strong", "overbought"],
    "macd": ["bull", "bear"],
    "trend": ["up", "down"],
}
PLANT = ("rsi=oversold", "side=LONG")


def trades(n: int, seed: int, base_win: float = 0.35, planted_win: float | None = None,
           in_sample_fraction: float = 0.7) -> pd.DataFrame:
    """``n`` trades with uniformly random states; outcome WIN with ``base_win``, or with
    ``planted_win`` when the trade has every item of ``PLANT``. Time order = row order."""
    rng = np.random.default_rng(seed)
    rows = []
    n_in = int(n * in_sample_fraction)
    for t in range(n):
        items = [f"{k}={rng.choice(v)}" for k, v in STATES.items()]
        p = planted_win if planted_win is not None and all(i in items for i in PLANT) \
            else base_win
        u = rng.random()
        outcome = "WIN" if u < p else ("LOSS" if u < p + (1 - p) * 0.8 else "TIMEOUT")
        items.append(f"outcome={outcome}")
        rows += [(t + 1, item, t < n_in) for item in items]
    return pd.DataFrame(rows, columns=["prediction_id", "item", "is_in_sample"])


def recount(tx: pd.DataFrame, antecedent: list[str], in_sample: bool, target="outcome=WIN"):
    """(n trades, n with antecedent, n with antecedent and target) recounted directly."""
    sets = _item_sets(tx, in_sample)
    wanted = set(antecedent)
    with_a = [s for s in sets if wanted <= s]
    return len(sets), len(with_a), sum(target in s for s in with_a)


_SETS: dict[tuple[int, bool], tuple[pd.DataFrame, list[set[str]]]] = {}


def _item_sets(tx: pd.DataFrame, in_sample: bool) -> list[set[str]]:
    key = (id(tx), in_sample)
    if key not in _SETS or _SETS[key][0] is not tx:
        part = tx[tx["is_in_sample"] == in_sample]
        _SETS[key] = (tx, list(part.groupby("prediction_id")["item"].agg(set)))
    return _SETS[key][1]
