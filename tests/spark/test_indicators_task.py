"""What one Spark task of the indicator job does (``make_task`` / ``run_series``), called
without Spark on plan numbers as Spark hands them over, with the bundled candles as the reader
and a list as the writer: a bad series beside a good one, an incremental watermark, a series
whose rows are not the ones planned, a reader or writer that raises. Its rows are
indicator_values' rows: a value and a gap flag column per code, null where undefined. The same
task through Spark and MariaDB is in test_indicators_job and test_indicators_io."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from spark.indicators import compute_indicators, gap_flags, load_config_csv
from spark.indicators._io import INPUT_SCHEMA
from spark.indicators._store import SeriesPlan, gap_column
from spark.indicators.job import INPUT_COLUMNS, SUMMARY_SCHEMA, make_task, wide_columns
from tests.support.sample import read_sample

SPECS = load_config_csv()
END = pd.Timestamp("2021-07-01")


def arrow_table(df: pd.DataFrame, symbol_id: int) -> pa.Table:
    """The series' candles as a reader returns them (INPUT_SCHEMA)."""
    return pa.Table.from_pandas(
        df.assign(symbol_id=symbol_id, interval_id=5, open_time=df.open_time.dt.tz_localize(
            "UTC"))[INPUT_COLUMNS], schema=INPUT_SCHEMA, preserve_index=False)


class Reader:
    """plan -> the candles given for its symbol (a shuffled copy: the task sorts them)."""

    def __init__(self, candles: dict[str, pd.DataFrame]):
        self.candles = candles

    def __call__(self, plan):
        df = self.candles[plan.symbol]
        if isinstance(df, Exception):
            raise df
        return arrow_table(df.sample(frac=1, random_state=1), plan.symbol_id)


class Writer:
    """Keeps what the task writes, per series."""

    def __init__(self, fail: str | None = None):
        self.written, self.fail = {}, fail

    def __call__(self, plan, rows):
        if plan.symbol == self.fail:
            raise OSError("disk full")
        self.written[plan.symbol] = rows
        return rows.num_rows


def run_task(plans, reader, writer, specs=SPECS) -> dict[int, dict]:
    """The task over each plan number, one per batch as Spark hands them: {plan: summary}."""
    batches = [pa.RecordBatch.from_pylist([{"plan": i}]) for i in range(len(plans))]
    out = pa.Table.from_batches(list(make_task(specs, plans, reader, writer)(iter(batches))),
                                schema=SUMMARY_SCHEMA)
    return {r["plan"]: r for r in out.to_pylist()}


def plan_for(symbol: str, symbol_id: int, df: pd.DataFrame, **kw) -> SeriesPlan:
    return SeriesPlan(symbol, "1h", symbol_id, 5, 3600, len(df), df.open_time.max(), **kw)


def output(batch: pa.RecordBatch) -> pd.DataFrame:
    out = batch.to_pandas()
    out["open_time"] = out["open_time"].dt.tz_localize(None)
    return out


def test_a_bad_series_is_reported_and_writes_nothing_while_the_other_is_written():
    eth = read_sample("ETHUSDT", end=END)
    bnb = read_sample("BNBUSDT", end=END)
    bad = bnb.assign(high=bnb.high.where(bnb.index != 40, bnb.low - 1))
    plans = [plan_for("ETHUSDT", 2, eth), plan_for("BNBUSDT", 3, bad)]
    writer = Writer()
    summary = run_task(plans, Reader({"ETHUSDT": eth, "BNBUSDT": bad}), writer)
    assert summary[1]["rows"] == 0 and "high/low" in summary[1]["error"]
    assert summary[0] == {"plan": 0, "rows": len(eth), "error": None}
    assert list(writer.written) == ["ETHUSDT"]
    out = output(writer.written["ETHUSDT"])
    assert set(out.symbol) == {"ETHUSDT"} and set(out.interval_code) == {"1h"}
    assert list(out.columns) == wide_columns(SPECS)
    assert list(out.columns[3:5]) == ["rsi_14", "ema_12"]  # a value column is named by its code
    assert out.open_time.is_monotonic_increasing and len(out) == len(eth)
    expected = compute_indicators(eth, SPECS)
    flags = gap_flags(eth, SPECS, 3600)
    for spec in SPECS:
        assert np.array_equal(out[spec.code].to_numpy(), expected[spec.code].to_numpy(),
                              equal_nan=True), spec.code
        defined = expected[spec.code].notna().to_numpy()
        gap = out[gap_column(spec.code)]
        assert (gap[defined].to_numpy() == flags[spec.code][defined].to_numpy()).all()
        assert gap[~defined].isna().all(), spec.code  # no flag without a value
    assert (~expected.ema_200.notna()).sum() == 199  # so the null case is exercised
    assert out[gap_column("rsi_14")].eq(True).any()  # the April 2021 outages


def test_incremental_rows_start_after_the_watermark():
    eth = read_sample("ETHUSDT", end=END)
    watermark = eth.open_time[2000].to_pydatetime()
    full = compute_indicators(eth, SPECS)
    plan = plan_for("ETHUSDT", 2, eth, mode="incremental", watermark=watermark,
                    seeds={"obv": (watermark, 123.0)})
    writer = Writer()
    run_task([plan], Reader({"ETHUSDT": eth}), writer)
    out = output(writer.written["ETHUSDT"])
    assert out.open_time.min() == eth.open_time[2001] and len(out) == len(eth) - 2001
    # OBV continues from the stored value; the others equal the full computation
    obv = full.obv.to_numpy()
    assert np.allclose(out["obv"], obv[2001:] - obv[2000] + 123.0, rtol=1e-12)
    assert np.array_equal(out["ema_50"], full.ema_50.to_numpy()[2001:])


@pytest.mark.parametrize("planned", [100, 10_000])
def test_rows_other_than_planned_fail_the_series(planned):
    eth = read_sample("ETHUSDT", end=dt.datetime(2021, 5, 1))
    plan = plan_for("ETHUSDT", 2, eth)
    plan.candles_to_read = planned
    writer = Writer()
    summary = run_task([plan], Reader({"ETHUSDT": eth}), writer)
    assert writer.written == {} and "planned" in summary[0]["error"]


def test_a_reader_or_writer_that_raises_fails_only_its_series():
    eth = read_sample("ETHUSDT", end=dt.datetime(2021, 5, 1))
    bnb = read_sample("BNBUSDT", end=dt.datetime(2021, 5, 1))
    plans = [plan_for("ETHUSDT", 2, eth), plan_for("BNBUSDT", 3, bnb),
             plan_for("BTCUSDT", 1, eth)]
    writer = Writer(fail="BNBUSDT")
    reader = Reader({"ETHUSDT": eth, "BNBUSDT": bnb,
                     "BTCUSDT": ConnectionError("server went away")})
    summary = run_task(plans, reader, writer)
    assert summary[0]["error"] is None and list(writer.written) == ["ETHUSDT"]
    assert summary[1]["error"] == "OSError: disk full"
    assert summary[2]["error"] == "ConnectionError: server went away"
