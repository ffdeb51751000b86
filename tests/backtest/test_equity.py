"""Equity, drawdown, rolling, monthly, summary and walk-forward arithmetic on hand-checked
trades: a hand-made fact_prediction_result, the performance marts built on it by dbt."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.backtest import inputs
from tests.backtest.reference import equity_curve

RESULT_DDL = """
create table fact_prediction_result (prediction_id varchar(64) primary key, symbol_id int,
    interval_id int, action varchar(8), outcome varchar(8), pnl_pct double, pnl_r double,
    bars_held int, is_closed int, signal_open_time datetime, entry_time datetime,
    exit_time datetime, closed_at datetime)
"""
# (prediction_id, symbol, outcome, pnl_r, bars_held, exit_time); risk 1% -> pnl_pct = pnl_r
TRADES = [
    ("a1", 1, "WIN", 2.0, 5, dt.datetime(2022, 1, 10)),
    ("a2", 1, "LOSS", -1.0, 3, dt.datetime(2022, 2, 10)),
    ("b1", 2, "LOSS", -1.0, 4, dt.datetime(2022, 2, 11)),
    ("a3", 1, "LOSS", -1.0, 2, dt.datetime(2022, 3, 10)),
    ("a4", 1, "WIN", 2.0, 6, dt.datetime(2022, 4, 10)),
    ("a5", 1, "TIMEOUT", 0.5, 24, dt.datetime(2022, 4, 20)),
    ("a6", 1, "LOSS", -1.0, 1, dt.datetime(2022, 5, 2)),
    ("p1", 1, "PENDING", None, None, None),
]
# Equity of symbol 1 by hand (10,000 start, 1% risk): 10200, 10098, 9997.02, 10196.9604,
# 10247.945202, 10145.46575; peak 10247.945202 from trade 5.
HAND_EQUITY_1 = [10200.0, 10098.0, 9997.02, 10196.9604, 10247.945202, 10145.46574998]
HAND_MAX_DD_1 = 100 * (9997.02 / 10200 - 1)  # -1.99 %


MARTS = ("int_backtest_trades_scoped mart_equity_curve mart_rolling_performance "
         "mart_monthly_performance mart_backtest_summary mart_walk_forward")


def _build_on_trades(settings, trades, *dbt_args: str) -> None:
    """A warehouse holding ``trades`` (TRADES' layout, symbols 1 and 2) as
    fact_prediction_result, and the performance marts built on it, their dbt tests included
    (a failing test fails the build)."""
    inputs.create_tables(settings)
    rows = []
    for pid, symbol_id, outcome, r, bars, exit_time in trades:
        closed = outcome != "PENDING"
        entry = (exit_time or dt.datetime(2022, 5, 5)) - dt.timedelta(hours=bars or 1)
        rows.append((pid, symbol_id, 4, "LONG", outcome, r, r, bars, int(closed),
                     entry - dt.timedelta(hours=1), entry, exit_time, exit_time))
    from cryptoquant import db

    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(RESULT_DDL)
        cur.executemany("insert into fact_prediction_result values "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
        cur.executemany("insert into dim_symbol values (%s, %s, 'T', 'USDT')",
                        [(1, "AAAUSDT"), (2, "BBBUSDT")])
        conn.commit()
    inputs.run_dbt(settings, ["build", *dbt_args, "--select", MARTS], capture=True)


@pytest.fixture(scope="module")
def equity_warehouse(make_settings):
    settings = make_settings("bt_equity")
    _build_on_trades(settings, TRADES, "--vars", "{backtest_rolling_window_trades: 3}")
    return settings


def _scope(settings, table, scope, order="trade_number"):
    return inputs.fetch(settings, f"select * from {table} where scope = %s order by {order}",
                        (scope,))


def test_equity_and_drawdown_match_the_hand_computation(equity_warehouse):
    curve = _scope(equity_warehouse, "mart_equity_curve", "AAAUSDT")
    assert [c["prediction_id"] for c in curve] == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert [c["equity"] for c in curve] == pytest.approx(HAND_EQUITY_1, rel=1e-9)
    assert [c["peak_equity"] for c in curve] == pytest.approx(
        [10200, 10200, 10200, 10200, 10247.945202, 10247.945202], rel=1e-9)
    assert min(c["drawdown_pct"] for c in curve) == pytest.approx(HAND_MAX_DD_1, rel=1e-9)
    assert curve[0]["drawdown_pct"] == pytest.approx(0, abs=1e-12)
    # the independent reference agrees on every point
    ref = equity_curve([c["pnl_r"] for c in curve])
    assert [(c["equity"], c["peak_equity"], c["drawdown_pct"]) for c in curve] == [
        pytest.approx(r, rel=1e-9, abs=1e-9) for r in ref]


def test_all_scope_interleaves_symbols_in_exit_order(equity_warehouse):
    curve = _scope(equity_warehouse, "mart_equity_curve", "ALL")
    assert [c["prediction_id"] for c in curve] == ["a1", "a2", "b1", "a3", "a4", "a5", "a6"]
    assert curve[-1]["equity"] == pytest.approx(
        10_000 * 1.02 * 0.99 * 0.99 * 0.99 * 1.02 * 1.005 * 0.99, rel=1e-9)


def test_rolling_window_of_three(equity_warehouse):
    rolling = _scope(equity_warehouse, "mart_rolling_performance", "AAAUSDT")
    assert [r["window_trades"] for r in rolling] == [1, 2, 3, 3, 3, 3]
    assert [r["rolling_expectancy_r"] for r in rolling] == pytest.approx(
        [2.0, 0.5, 0.0, 0.0, 0.5, 0.5])
    assert [r["rolling_win_rate"] for r in rolling] == pytest.approx(
        [1, 0.5, 1 / 3, 1 / 3, 1 / 3, 1 / 3])  # a profitable TIMEOUT is not a win


def test_summary_statistics(equity_warehouse):
    (row,) = _scope(equity_warehouse, "mart_backtest_summary", "AAAUSDT", "scope")
    r = [2.0, -1.0, -1.0, 2.0, 0.5, -1.0]
    mean = sum(r) / 6
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 5)
    assert (row["trades"], row["wins"], row["losses"], row["timeouts"]) == (6, 2, 3, 1)
    assert row["pending_trades"] == 1
    assert row["win_rate"] == pytest.approx(2 / 6)
    assert row["expectancy_r"] == pytest.approx(mean)
    assert row["profit_factor"] == pytest.approx(4.5 / 3)
    assert row["sharpe_ratio"] == pytest.approx(mean / sd)
    assert row["avg_bars_held"] == pytest.approx(41 / 6)
    assert row["max_drawdown_pct"] == pytest.approx(HAND_MAX_DD_1, rel=1e-9)
    assert row["final_equity"] == pytest.approx(HAND_EQUITY_1[-1], rel=1e-9)
    (overall,) = _scope(equity_warehouse, "mart_backtest_summary", "ALL", "scope")
    assert (overall["trades"], overall["symbol_id"]) == (7, None)


def test_monthly_and_walk_forward(equity_warehouse):
    months = _scope(equity_warehouse, "mart_monthly_performance", "AAAUSDT", "month_start")
    assert [(str(m["month_start"]), m["trades"]) for m in months] == [
        ("2022-01-01", 1), ("2022-02-01", 1), ("2022-03-01", 1), ("2022-04-01", 2),
        ("2022-05-01", 1)]
    quarters = _scope(equity_warehouse, "mart_walk_forward", "AAAUSDT", "period_start")
    q1, q2 = quarters
    assert (q1["period_label"], q1["trades"], q1["in_sample_trades"]) == ("2022-Q1", 3, 0)
    assert q1["in_sample_expectancy_r"] is None
    assert q1["max_drawdown_pct"] == pytest.approx(HAND_MAX_DD_1, rel=1e-9)
    assert (q2["period_label"], q2["trades"], q2["in_sample_trades"]) == ("2022-Q2", 3, 3)
    assert q2["expectancy_r"] == pytest.approx(0.5)
    assert q2["in_sample_expectancy_r"] == pytest.approx(0.0)
    assert q2["expectancy_change_r"] == pytest.approx(0.5)
    # the quarter's equity restarts: 10200, 10251, 10148.49 -> drawdown -1% from 10251
    assert q2["max_drawdown_pct"] == pytest.approx(-1.0, rel=1e-9)


# A ruinous series: a win, then losses of 99 R (each keeps 1% of the equity at 1% risk) and one
# of 150 R (more than all of it: the factor is floored at 1e-12, the model's ruin). After some
# 160 such losses equity / start falls below the smallest normal double and then to 0.
RUIN_R = [2.0] + [-99.0] * 100 + [-150.0] + [-99.0] * 80
RUIN_TRADES = [(f"r{i:03d}", 1, "WIN" if r > 0 else "LOSS", r, 1,
                dt.datetime(2022, 1, 1) + dt.timedelta(hours=2 * i))
               for i, r in enumerate(RUIN_R)]


@pytest.fixture(scope="module")
def ruin_warehouse(make_settings):
    settings = make_settings("bt_ruin")
    _build_on_trades(settings, RUIN_TRADES)  # backtest_equity_recursion among its tests
    return settings


def test_equity_through_ruin_and_underflow(ruin_warehouse):
    """The curve's state is log_equity, the running sum of ln(max(1 + risk R, 1e-12)); the
    equity derived from it loses precision below ~1e-308 and ends at 0, and the recursion test
    (run in the fixture's build) must hold there too."""
    curve = _scope(ruin_warehouse, "mart_equity_curve", "AAAUSDT")
    assert len(curve) == len(RUIN_R)
    expected = 0.0
    for point, r in zip(curve, RUIN_R, strict=True):
        expected += math.log(max(1 + 0.01 * r, 1e-12))
        assert point["log_equity"] == pytest.approx(expected, rel=1e-12)
    assert curve[101]["log_equity"] - curve[100]["log_equity"] == pytest.approx(
        math.log(1e-12), rel=1e-9)
    assert any(0 < p["equity"] < 2.2250738585072014e-308 for p in curve)  # subnormal steps
    assert curve[-1]["equity"] == 0
    assert curve[-1]["drawdown_pct"] == pytest.approx(-100)
    (summary,) = _scope(ruin_warehouse, "mart_backtest_summary", "AAAUSDT", "scope")
    assert summary["max_drawdown_pct"] == pytest.approx(-100)


@pytest.mark.parametrize("column, trade", [("equity", 3), ("log_equity", 170)])
def test_recursion_test_catches_a_broken_step(make_settings, column, trade):
    """backtest_equity_recursion fails when one point is off by a relative 1e-6: the equity of
    a normal-range step, or the log_equity of a step in the underflow (where equity is 0)."""
    from cryptoquant import db
    from cryptoquant.dbt import DbtFailed

    settings = make_settings("bt_break")
    _build_on_trades(settings, RUIN_TRADES)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(f"update mart_equity_curve set {column} = {column} * (1 + 1e-6) "
                    "where scope = 'AAAUSDT' and trade_number = %s", (trade,))
        assert cur.rowcount == 1
        conn.commit()
    with pytest.raises(DbtFailed, match="backtest_equity_recursion"):
        inputs.run_dbt(settings, ["test", "--select", "backtest_equity_recursion"],
                       capture=True)
