"""The benchmark's vectorised numpy evaluation agrees with the loop-by-loop reference on random
series with gaps, ties and incomplete windows (so the benchmark compares like with like)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.bench_backtest import OUTCOMES, evaluate_vectorised
from tests.backtest.reference import Candle, close, evaluate


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n = 400
    # prices on a 0.5 grid so that opens and extremes often land exactly on a level
    close_ = 100 + np.round(np.cumsum(rng.normal(0, 1, n)) * 2) / 2
    open_ = np.r_[100.0, close_[:-1]] + rng.choice([0, 0, 0, 1.5, -1.5], n)   # gaps
    high = np.maximum(open_, close_) + np.round(rng.exponential(0.6, n) * 2) / 2
    low = np.minimum(open_, close_) - np.round(rng.exponential(0.6, n) * 2) / 2
    signal = np.sort(rng.choice(n - 1, 150, replace=False))
    sign = rng.choice([1, -1], 150)
    atr = rng.choice([0.5, 1.0, 1.5, np.nan], 150)
    signal[-1], atr[-1] = n - 1, 1.0   # no entry candle yet: PENDING
    got = evaluate_vectorised(open_, high, low, close_, signal, sign, atr)
    series = [Candle(i, *v) for i, v in enumerate(zip(open_, high, low, close_, strict=True))]
    seen = set()
    for j, s in enumerate(signal):
        a = None if np.isnan(atr[j]) else float(atr[j])
        want = evaluate("LONG" if sign[j] > 0 else "SHORT", series, int(s), a)
        seen.add(want.outcome)
        assert OUTCOMES[got["code"][j]] == want.outcome, j
        if want.exit_price is not None:
            assert close(float(got["exit_price"][j]), want.exit_price)
            assert close(float(got["pnl_r"][j]), want.pnl_r)
            assert got["bars_held"][j] == want.bars_held
    assert {"WIN", "LOSS", "PENDING", "NO_ATR"} <= seen
