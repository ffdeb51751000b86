"""Each trade rule of fact_prediction_result on a hand-made case, built by dbt."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.backtest import cases, inputs
from tests.backtest.inputs import HOUR, T0


def _results(settings) -> dict[int, dict]:
    rows = inputs.fetch(settings, "select * from fact_prediction_result")
    return {r["symbol_id"]: r for r in rows}


@pytest.mark.parametrize("symbol_id", sorted(cases.EXPECTED))
def test_rule_case(rules_warehouse, symbol_id):
    row = _results(rules_warehouse)[symbol_id]
    outcome, exit_price, bars_held, reason = cases.EXPECTED[symbol_id]
    assert row["outcome"] == outcome
    assert row["exit_price"] == (pytest.approx(exit_price) if exit_price is not None else None)
    assert row["bars_held"] == bars_held
    assert row["exit_reason"].startswith(reason)
    assert row["is_closed"] == (outcome in ("WIN", "LOSS", "TIMEOUT"))


def test_long_and_short_levels_mirror_around_the_entry(rules_warehouse):
    rows = _results(rules_warehouse)
    assert (rows[4]["entry_price"], rows[4]["tp_price"], rows[4]["sl_price"]) == (100, 102, 99)
    assert (rows[10]["entry_price"], rows[10]["tp_price"], rows[10]["sl_price"]) == (100, 98, 101)
    # levels are measured from the entry candle's open, not the signal candle's close
    assert (rows[16]["entry_price"], rows[16]["tp_price"], rows[16]["sl_price"]) == (101, 105, 99)
    assert rows[16]["entry_time"] == T0 + HOUR


def test_outage_gap_is_stepped_over(rules_warehouse):
    row = _results(rules_warehouse)[14]
    assert row["signal_open_time"] == T0
    assert row["entry_time"] == T0 + 3 * HOUR           # next candle after the 2 missing hours
    assert row["exit_time"] == T0 + 26 * HOUR           # 24th candle of the series, not hour
    assert row["closed_at"] == T0 + 27 * HOUR           # the TIMEOUT is known at its close


def test_gap_exit_is_known_at_the_open(rules_warehouse):
    row = _results(rules_warehouse)[2]
    assert row["exit_time"] == row["closed_at"] == T0 + 2 * HOUR


@pytest.mark.parametrize(("symbol_id", "gross", "pnl_pct", "pnl_r"), [
    # entry 100 -> exit 102, LONG: fee 0.1% x (100 + 102) / 100, slippage 0.02% x 2.02
    (4, 2.0, 2.0 - 0.202 - 0.0404, 1.7576),
    # entry 100 -> gap exit 97, LONG: worse than -1 R
    (2, -3.0, -3.0 - 0.197 - 0.0394, -3.2364),
    # SHORT entry 100 -> gap exit 102
    (8, -2.0, -2.0 - 0.202 - 0.0404, -2.2424),
    # SHORT entry 100 -> TP 98: fee 0.1% x 1.98
    (10, 2.0, 2.0 - 0.198 - 0.0396, 1.7624),
    # entry 101 -> TP 105, risk 2/101: R = pnl_pct / (100 * 2 / 101)
    (16, 400 / 101, 400 / 101 - 0.12 * 206 / 101, (400 / 101 - 0.12 * 206 / 101) / (200 / 101)),
])
def test_fee_and_slippage_arithmetic(rules_warehouse, symbol_id, gross, pnl_pct, pnl_r):
    row = _results(rules_warehouse)[symbol_id]
    assert row["gross_pnl_pct"] == pytest.approx(gross, abs=1e-9)
    assert row["fee_pct"] + row["slippage_pct"] == pytest.approx(gross - pnl_pct, abs=1e-9)
    assert row["fee_pct"] == pytest.approx(5 * row["slippage_pct"], abs=1e-12)
    assert row["pnl_pct"] == pytest.approx(pnl_pct, abs=1e-9)
    assert row["pnl_r"] == pytest.approx(pnl_r, abs=1e-9)


def test_pending_turns_final_when_more_candles_arrive(rules_warehouse):
    before = _results(rules_warehouse)
    assert [before[s]["outcome"] for s in (21, 22, 23)] == ["PENDING"] * 3
    assert [before[s]["available_bars"] for s in (21, 22, 23)] == [10, 5, 0]
    assert before[23]["entry_time"] is None and before[21]["exit_price"] is None
    assert before[21]["pnl_r"] is None

    inputs.write_cases(rules_warehouse, cases.PENDING_EXTENDED)
    inputs.build_backtest(rules_warehouse)

    after = _results(rules_warehouse)
    for symbol_id, (outcome, exit_price, bars_held, reason) in cases.PENDING_FINAL.items():
        row = after[symbol_id]
        assert (row["outcome"], row["bars_held"]) == (outcome, bars_held), symbol_id
        assert row["exit_price"] == pytest.approx(exit_price)
        assert row["exit_reason"].startswith(reason)
    assert after[23]["entry_time"] == T0 + HOUR
    # the cases that were already final did not move
    for symbol_id in cases.EXPECTED:
        assert after[symbol_id] == before[symbol_id]
    assert isinstance(after[21]["exit_time"], dt.datetime)
