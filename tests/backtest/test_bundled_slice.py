"""The dbt backtest on the bundled real klines (BTC/ETH/BNB 1h) against an independent
recomputation in Python, row for row.

fact_kline and fact_indicator come from the real pipeline (dbt base models, the indicator
arithmetic of the Spark job). Two sets of predictions: the real fact_prediction built by dbt
(January 2022), and deterministic pseudo-random LONG / SHORT / NO_TRADE actions on every
candle of 2022-01..2022-04 (a hash of the candle), so thousands of trades in every market
condition are checked, independent of the scoring model's current thresholds.
"""

from __future__ import annotations

import collections
import datetime as dt

import numpy as np
import pytest

from cryptoquant import db
from cryptoquant.dbt import run_dbt
from tests.backtest import inputs
from tests.backtest.reference import Candle, close, equity_curve, evaluate
from tests.dbt.indicator_fixture import land_indicator_values
from tests.support.sample import land_klines

PREDICTIONS_SQL = """
create table fact_prediction as
select
    md5(concat(k.symbol_id, '|', k.interval_id, '|', k.open_time)) as prediction_id,
    k.symbol_id, k.interval_id, k.open_time, k.open_time as predicting_at,
    cast(case crc32(concat(k.symbol_id, k.open_time)) % 3
        when 0 then 'LONG' when 1 then 'SHORT' else 'NO_TRADE' end as char(8)) as action
from fact_kline k
"""


NO_TESTS = ["--exclude", "test_type:generic", "test_type:singular"]  # other areas' tests


@pytest.fixture(scope="module")
def slice_warehouse(make_settings):
    settings = make_settings("bt_slice")
    land_klines(settings)
    land_indicator_values(settings)
    # the real seeds and models up to fact_kline and fact_indicator
    run_dbt(settings, ["build", "--select", "symbols", "intervals", "indicator_types",
                       "stg_binance__klines", "stg_spark__indicator_values", "dim_symbol",
                       "dim_interval", "dim_indicator_type", "fact_kline", "fact_indicator",
                       *NO_TESTS], capture=True)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(PREDICTIONS_SQL)
        cur.execute("alter table fact_prediction add primary key (prediction_id)")
        conn.commit()
    inputs.build_backtest(settings)
    return settings


@pytest.fixture(scope="module")
def scored_warehouse(make_settings):
    """The real chain: seeds, staging, dims, fact_kline, fact_indicator, metrics, scores and
    fact_prediction built by dbt (news tables present but empty), then the backtest."""
    from loaders.news_sentiment import ensure_tables

    settings = make_settings("bt_scored")
    land_klines(settings, start=dt.datetime(2022, 1, 1), end=dt.datetime(2022, 2, 1))
    land_indicator_values(settings)
    ensure_tables(settings)
    run_dbt(settings, ["build", "--select", "+fact_prediction", *NO_TESTS], capture=True)
    inputs.build_backtest(settings)
    return settings


def _series(settings):
    rows = inputs.fetch(settings, "select symbol_id, interval_id, open_time, open, high, low, "
                                  "close from fact_kline order by symbol_id, interval_id, "
                                  "open_time")
    series, index = collections.defaultdict(list), {}
    for r in rows:
        key = (r["symbol_id"], r["interval_id"])
        index[(*key, r["open_time"])] = len(series[key])
        series[key].append(Candle(r["open_time"], float(r["open"]), float(r["high"]),
                                  float(r["low"]), float(r["close"])))
    return series, index


def _recomputation_mismatches(warehouse) -> tuple[list, dict]:
    series, index = _series(warehouse)
    predictions = inputs.fetch(warehouse, """
        select p.prediction_id, p.symbol_id, p.interval_id, p.open_time, p.action,
               atr.indicator_value as atr
        from fact_prediction p
        left join (select i.* from fact_indicator i join dim_indicator_type t
                   on t.indicator_type_id = i.indicator_type_id
                   where t.indicator_code = 'atr_14') atr
          on atr.symbol_id = p.symbol_id and atr.interval_id = p.interval_id
         and atr.open_time = p.open_time
        where p.action in ('LONG', 'SHORT')""")
    results = {r["prediction_id"]: r for r in inputs.fetch(
        warehouse, "select * from fact_prediction_result")}
    assert len(results) == len(predictions)
    fields = ("outcome", "entry_time", "entry_price", "tp_price", "sl_price", "exit_time",
              "exit_price", "bars_held", "pnl_pct", "pnl_r")
    mismatches = []
    for p in predictions:
        key = (p["symbol_id"], p["interval_id"])
        want = evaluate(p["action"], series[key], index[(*key, p["open_time"])], p["atr"])
        got = results[p["prediction_id"]]
        for f in fields:
            a, b = getattr(want, f), got[f]
            same = close(a, b) if isinstance(a, float) or isinstance(b, float) else a == b
            if not same:
                mismatches.append((p["prediction_id"], f, a, b))
    return mismatches, results


def test_real_predictions_agree_with_the_python_recomputation(scored_warehouse):
    mismatches, results = _recomputation_mismatches(scored_warehouse)
    assert mismatches == []
    assert len(results) > 300
    assert {"WIN", "LOSS"} <= {r["outcome"] for r in results.values()}


def test_every_trade_agrees_with_the_python_recomputation(slice_warehouse):
    mismatches, results = _recomputation_mismatches(slice_warehouse)
    assert mismatches == []
    assert len(results) > 5000
    outcomes = collections.Counter(r["outcome"] for r in results.values())
    # the slice exercises every outcome, including gaps through a level and both-in-one-candle
    assert {"WIN", "LOSS", "TIMEOUT", "PENDING", "NO_ATR"} <= set(outcomes)
    reasons = collections.Counter(r["exit_reason"] for r in results.values())
    assert reasons["both levels in one candle: stop-loss assumed first"] > 0


def test_rolling_regression_matches_numpy(slice_warehouse):
    window = 48
    series, _ = _series(slice_warehouse)
    rows = inputs.fetch(slice_warehouse, "select * from mart_price_regression "
                                         "where symbol_id = 1 order by open_time")
    candles = series[(1, 4)]
    assert len(rows) == len(candles) - window + 1
    times = np.array([(c.open_time - candles[0].open_time).total_seconds() / 3600
                      for c in candles])
    closes = np.array([c.close for c in candles])
    for row in rows[:: 97]:
        end = next(i for i, c in enumerate(candles) if c.open_time == row["open_time"]) + 1
        x, y = times[end - window:end], closes[end - window:end]
        slope, intercept = np.polyfit(x, y, 1)
        fitted = intercept + slope * x
        resid = y - fitted
        sigma = np.sqrt((resid ** 2).sum() / (window - 2))
        r2 = 1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum()
        assert row["slope"] == pytest.approx(slope, rel=1e-6)
        assert row["fitted_close"] == pytest.approx(fitted[-1], rel=1e-9)
        assert row["r_squared"] == pytest.approx(r2, abs=1e-6)
        assert row["residual_zscore"] == pytest.approx(resid[-1] / sigma, abs=1e-5)


def test_equity_curve_matches_the_reference_over_many_blocks(slice_warehouse):
    """The running peak is computed in blocks of 256 trades in SQL; thousands of trades per
    scope cross many blocks."""
    for scope in ("ALL", "BTCUSDT"):
        curve = inputs.fetch(slice_warehouse, "select * from mart_equity_curve where scope = %s "
                                              "order by trade_number", (scope,))
        assert len(curve) > 1000
        ref = equity_curve([c["pnl_r"] for c in curve])
        got = [(c["equity"], c["peak_equity"], c["drawdown_pct"]) for c in curve]
        assert got == [pytest.approx(r, rel=1e-9, abs=1e-9) for r in ref]
        (summary,) = inputs.fetch(slice_warehouse, "select * from mart_backtest_summary "
                                                   "where scope = %s", (scope,))
        assert summary["max_drawdown_pct"] == pytest.approx(min(r[2] for r in ref), rel=1e-9)
        assert summary["final_equity"] == pytest.approx(ref[-1][0], rel=1e-9)


def test_regime_labels_match_a_pandas_recomputation(slice_warehouse):
    import pandas as pd

    frame = pd.DataFrame(inputs.fetch(slice_warehouse, """
        select k.open_time, cast(k.close as double) as close,
               max(case when t.indicator_code = 'adx_14' then i.indicator_value end) as adx,
               max(case when t.indicator_code = 'ema_50' then i.indicator_value end) as ema,
               max(case when t.indicator_code = 'atr_14' then i.indicator_value end) as atr
        from fact_kline k
        left join fact_indicator i on i.symbol_id = k.symbol_id
         and i.interval_id = k.interval_id and i.open_time = k.open_time
        left join dim_indicator_type t on t.indicator_type_id = i.indicator_type_id
        where k.symbol_id = 2
        group by k.open_time, k.close order by k.open_time"""))
    frame = frame.astype({"adx": float, "ema": float, "atr": float})
    slope = 100 * (frame.ema / frame.ema.shift(10) - 1)
    atr_pct = 100 * frame.atr / frame.close
    ratio = atr_pct / atr_pct.shift(1).rolling(168).mean()
    trend = np.select([(frame.adx >= 25) & (slope > 0), (frame.adx >= 25) & (slope < 0)],
                      ["trend_up", "trend_down"], "range")
    vol = np.where(ratio >= 1.25, "high_vol", np.where(ratio <= 0.8, "low_vol", "normal_vol"))
    known = frame.adx.notna() & slope.notna() & ratio.notna()
    expected = np.where(known, pd.Series(trend) + "_" + pd.Series(vol), "unknown")
    got = [r["regime"] for r in inputs.fetch(
        slice_warehouse, "select regime from mart_regime where symbol_id = 2 order by open_time")]
    assert len(got) == len(frame)
    assert got == list(expected)
    assert len(set(got)) >= 8  # most regimes occur in four months of real data
