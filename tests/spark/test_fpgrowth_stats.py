"""Binomial test and Benjamini-Hochberg correction (pure, no Spark)."""

from math import comb

import numpy as np
import pytest

from spark.fpgrowth._stats import benjamini_hochberg, win_rate_p_value


def test_p_value_is_the_upper_binomial_tail():
    n, k, p = 20, 14, 0.4
    tail = sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert win_rate_p_value(k, n, p) == pytest.approx(tail, rel=1e-12)
    assert win_rate_p_value(0, n, p) == pytest.approx(1.0)


def test_degenerate_base_rate_gives_no_evidence():
    assert win_rate_p_value(5, 5, 1.0) == 1.0
    assert win_rate_p_value(0, 5, 0.0) == 1.0
    assert win_rate_p_value(0, 0, 0.5) == 1.0


def test_benjamini_hochberg_by_hand():
    p = [0.01, 0.04, 0.03, 0.20]
    # sorted: 0.01*4/1=0.04, 0.03*4/2=0.06, 0.04*4/3=0.0533 -> monotone 0.0533, 0.20*4/4=0.2
    expected = [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20]
    np.testing.assert_allclose(benjamini_hochberg(p), expected, rtol=1e-12)
    assert benjamini_hochberg([]).size == 0
