"""The function the Spark job runs on each partition (``mapInArrow``), called without Spark on
Arrow batches as Spark hands them over: several series in one partition, a bad series beside
good ones, an incremental watermark, and a series whose rows are not the ones planned. Its rows
are indicator_values' rows: a value and a gap flag column per code, null where undefined."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from spark.indicators import compute_indicators, gap_flags, load_config_csv
from spark.indicators._store import SeriesPlan, gap_column
from spark.indicators.job import INPUT_COLUMNS, make_partition_function, wide_columns
from tests.support.sample import read_sample

SPECS = load_config_csv()
END = pd.Timestamp("2021-07-01")


class Errors:
    """Stands in for the Spark accumulator: collects what the workers add."""

    def __init__(self):
        self.value = {}

    def add(self, update):
        self.value.update(update)


def arrow_batches(df: pd.DataFrame, symbol_id: int, rows: int = 1000) -> list[pa.RecordBatch]:
    table = pa.Table.from_pandas(
        df.assign(symbol_id=np.int32(symbol_id), interval_id=np.int32(5))[INPUT_COLUMNS],
        preserve_index=False)
    table = table.set_column(2, "open_time",
                             table.column("open_time").cast(pa.timestamp("us", tz="UTC")))
    return table.to_batches(max_chunksize=rows)


def plan_for(symbol: str, symbol_id: int, df: pd.DataFrame, **kw) -> SeriesPlan:
    return SeriesPlan(symbol, "1h", symbol_id, 5, 3600, len(df), df.open_time.max(), **kw)


def output(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    out = pa.Table.from_batches(batches).to_pandas()
    out["open_time"] = out["open_time"].dt.tz_localize(None)
    return out


def test_series_sharing_a_partition_are_computed_alone_and_a_bad_one_is_reported():
    eth = read_sample("ETHUSDT", end=END)
    bnb = read_sample("BNBUSDT", end=END)
    bad = bnb.assign(high=bnb.high.where(bnb.index != 40, bnb.low - 1))
    plans = [plan_for("ETHUSDT", 2, eth), plan_for("BNBUSDT", 3, bad)]
    errors = Errors()
    run = make_partition_function(SPECS, plans, errors)
    # interleaved batches, ETH's in reverse order: each series is still taken whole and sorted
    batches = [b for pair in zip(arrow_batches(bad, 3), arrow_batches(eth, 2)[::-1],
                                 strict=False) for b in pair]
    out = output(list(run(iter(batches))))
    assert list(errors.value) == ["BNBUSDT/1h"] and "high/low" in errors.value["BNBUSDT/1h"]
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
    out = output(list(make_partition_function(SPECS, [plan])(iter(arrow_batches(eth, 2)))))
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
    errors = Errors()
    out = list(make_partition_function(SPECS, [plan], errors)(iter(arrow_batches(eth, 2))))
    assert out == [] and "planned" in errors.value["ETHUSDT/1h"]
