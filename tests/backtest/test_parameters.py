"""The backtest parameters are dbt vars: zero costs, a wider take-profit and a shorter window
change the outcomes exactly as the rules say."""

from __future__ import annotations

import pytest

from tests.backtest import inputs
from tests.backtest.inputs import Case, flat

VARS = ("{backtest_fee_rate_per_side: 0, backtest_slippage_rate_per_side: 0, "
        "backtest_tp_atr_multiple: 2.5, backtest_lookahead_candles: 5}")
CASES = [
    Case(31, "LONG", flat(4) + [(100, 102.6, 99.8, 101)] + flat(25)),   # TP 102.5 at bar 4
    Case(32, "LONG", flat(6) + [(100, 103, 99.8, 101)] + flat(25)),     # TP only at bar 6 > 5
    Case(33, "SHORT", flat(2) + [(100, 100.2, 97.4, 98)] + flat(25)),   # TP 97.5 at bar 2
    Case(34, "LONG", flat(5)),                                          # 4 of 5 bars: PENDING
]


@pytest.fixture(scope="module")
def params_warehouse(make_settings):
    settings = make_settings("bt_params")
    inputs.create_tables(settings)
    inputs.write_cases(settings, CASES)
    inputs.build_backtest(settings, "--vars", VARS)
    rows = inputs.fetch(settings, "select * from fact_prediction_result")
    return {r["symbol_id"]: r for r in rows}


def test_wider_take_profit_without_costs(params_warehouse):
    for symbol_id, tp, bars in ((31, 102.5, 4), (33, 97.5, 2)):
        row = params_warehouse[symbol_id]
        assert (row["outcome"], row["bars_held"]) == ("WIN", bars)
        assert row["tp_price"] == pytest.approx(tp)
        assert row["fee_pct"] == row["slippage_pct"] == 0
        assert row["pnl_r"] == pytest.approx(2.5, abs=1e-12)


def test_shorter_window(params_warehouse):
    row = params_warehouse[32]
    assert (row["outcome"], row["bars_held"], row["exit_price"]) == ("TIMEOUT", 5, 100)
    assert row["pnl_r"] == pytest.approx(0, abs=1e-12)
    assert params_warehouse[34]["outcome"] == "PENDING"
    assert params_warehouse[34]["available_bars"] == 4
