"""Significance of win rules: one-sided binomial tests and Benjamini-Hochberg correction."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, false_discovery_control


def win_rate_p_value(win_count: int, antecedent_count: int, base_win_rate: float) -> float:
    """P(X >= win_count) for X ~ Binomial(antecedent_count, base_win_rate).

    The one-sided test of "the rule's win rate is above the base rate". Degenerate base rates
    (no wins or only wins in the sample) give no evidence either way: p = 1.
    """
    if antecedent_count <= 0 or not 0.0 < base_win_rate < 1.0:
        return 1.0
    return float(binomtest(int(win_count), int(antecedent_count), base_win_rate,
                           alternative="greater").pvalue)


def benjamini_hochberg(p_values) -> np.ndarray:
    """BH-adjusted p-values (q-values), in the input order; empty input gives an empty array."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    return false_discovery_control(p, method="bh")
