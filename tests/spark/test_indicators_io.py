"""The indicator job's task-side I/O against the real database: the reader returns exactly the
planned candles (full and incremental), the writer's rows come back from MariaDB bit for bit
(nulls, awkward doubles, flags, times), a retried task leaves one copy of its series, and the
merge moves computed_at only where a value changed."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pyarrow as pa
import pytest

from cryptoquant import db
from spark.indicators import _io, _store, load_config_csv
from spark.indicators._store import SeriesPlan
from spark.indicators.job import wide_columns
from tests.spark.test_indicators_job import refresh_fact_kline, stand_in_warehouse
from tests.support.sample import land_klines, read_sample

pytestmark = [pytest.mark.integration]

SPECS = load_config_csv()[:2]  # two codes are enough for the round trip: 2 values, 2 flags
RANGE = (dt.datetime(2022, 1, 1), dt.datetime(2022, 3, 1))


@pytest.fixture(scope="module")
def io_settings(make_settings):
    settings = make_settings("indio")
    stand_in_warehouse(settings)
    land_klines(settings, ["ETHUSDT", "BNBUSDT"], *RANGE)
    refresh_fact_kline(settings)
    _store.ensure_tables(settings, SPECS)
    return settings


def eth_plan(settings) -> SeriesPlan:
    plans = _store.plan_series(settings, SPECS, full_refresh=True, symbols=["ETHUSDT"])
    assert len(plans) == 1
    return plans[0]


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_the_reader_returns_exactly_the_planned_candles(io_settings, mode):
    candles = read_sample("ETHUSDT", *RANGE)
    plan = eth_plan(io_settings)
    plan.last_open_time = candles.open_time.iloc[-10].to_pydatetime()  # newer ones not planned
    expected = candles.iloc[:-9]
    if mode == "incremental":
        plan.mode, plan.start_time = "incremental", candles.open_time.iloc[100].to_pydatetime()
        expected = expected.iloc[100:]
    reader = pickle.loads(pickle.dumps(_io.KlineReader(io_settings.replace(
        mysql_admin_password="secret"))))  # as a task gets it
    assert reader.settings.mysql_admin_password == ""  # stays on the driver
    table = reader(plan)
    assert table.schema == _io.INPUT_SCHEMA
    got = table.sort_by("open_time")
    assert got.num_rows == len(expected)
    assert set(got.column("symbol_id").to_pylist()) == {plan.symbol_id}
    times = got.column("open_time").cast(pa.int64()).to_numpy()
    assert np.array_equal(times, expected.open_time.to_numpy().astype("datetime64[us]")
                          .astype("int64"))
    for column in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(got.column(column).to_numpy(), expected[column].to_numpy()), \
            column


def wide_rows(values: list[list[float | None]], symbol: str = "ETHUSDT") -> pa.RecordBatch:
    """Wide rows (as ``series_wide`` makes them) with the given values of the two codes, the
    gap flags alternating and null with the value."""
    n = len(values)
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    arrays = [pa.array([symbol] * n), pa.array(["1h"] * n),
              pa.array([start + dt.timedelta(hours=i) for i in range(n)],
                       pa.timestamp("us", tz="UTC"))]
    arrays += [pa.array([row[j] for row in values], pa.float64()) for j in range(2)]
    arrays += [pa.array([None if row[j] is None else (i + j) % 2 == 0
                         for i, row in enumerate(values)], pa.bool_()) for j in range(2)]
    return pa.RecordBatch.from_arrays(arrays, names=wide_columns(SPECS))


def staged(settings, table: str) -> list[tuple]:
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select * from `{table}` order by symbol, open_time")
        return list(cur.fetchall())


AWKWARD = [0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
           -123456.78901234567, 9007199254740993.0, 1e22, 0.0, 67423.91000000001]


def test_the_writer_round_trips_nulls_doubles_flags_and_times(io_settings):
    computed_at = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    staging = _io.create_staging(io_settings, [s.code for s in SPECS])
    try:
        values = [[v, None if i % 3 == 0 else -v] for i, v in enumerate(AWKWARD)]
        values.append([None, None])
        rows = wide_rows(values)
        writer = pickle.loads(pickle.dumps(_io.StagingWriter(io_settings, staging,
                                                             computed_at)))
        assert writer(eth_plan(io_settings), rows) == len(values)
        got = staged(io_settings, staging)
    finally:
        _io.drop_staging(io_settings, staging)
    expected = [("ETHUSDT", "1h", dt.datetime(2022, 1, 1) + dt.timedelta(hours=i), a, b,
                 None if a is None else int(i % 2 == 0), None if b is None else int(i % 2 == 1),
                 computed_at) for i, (a, b) in enumerate(values)]
    assert got == expected
    doubles = np.array([r[3] for r in got[:-1]], dtype="float64")
    assert doubles.tobytes() == np.array(AWKWARD, dtype="float64").tobytes()  # bit for bit


def test_a_retried_task_leaves_one_copy_of_its_series(io_settings):
    staging = _io.create_staging(io_settings, [s.code for s in SPECS])
    plan = eth_plan(io_settings)
    bnb = eth_plan(io_settings)
    bnb.symbol = "BNBUSDT"
    try:
        writer = _io.StagingWriter(io_settings, staging, dt.datetime(2026, 1, 1))
        writer(bnb, wide_rows([[1.0, 2.0]] * 3, "BNBUSDT"))
        writer(plan, wide_rows([[1.0, 2.0]] * 5))  # an attempt lost after it committed
        writer(plan, wide_rows([[1.5, 2.5]] * 4))  # the retry, which read one candle less
        got = staged(io_settings, staging)
        _io.discard_series(io_settings, staging, [bnb])  # as for a series whose retry failed
        left = staged(io_settings, staging)
    finally:
        _io.drop_staging(io_settings, staging)
    eth = [r for r in got if r[0] == "ETHUSDT"]
    assert [r[3:5] for r in eth] == [(1.5, 2.5)] * 4
    assert len([r for r in got if r[0] == "BNBUSDT"]) == 3  # the other series untouched
    assert left == eth


def test_the_merge_moves_computed_at_only_where_a_value_changed(io_settings):
    columns = wide_columns(SPECS)
    first, second = dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)
    plan = eth_plan(io_settings)
    for stamp, values in ((first, [[1.0, None], [2.0, 3.0]]),
                          (second, [[1.0, None], [2.0, 4.0], [5.0, 6.0]])):
        staging = _io.create_staging(io_settings, [s.code for s in SPECS])
        try:
            _io.StagingWriter(io_settings, staging, stamp)(plan, wide_rows(values))
            _io.merge_staging(io_settings, staging, columns)
        finally:
            _io.drop_staging(io_settings, staging)
    with db.staging(io_settings) as conn, conn.cursor() as cur:
        cur.execute("select computed_at from indicator_values where symbol = 'ETHUSDT' "
                    "order by open_time")
        stamps = [r[0] for r in cur.fetchall()]
        cur.execute("show tables like '\\_stg\\_%'")
        leftovers = cur.fetchall()
    assert stamps == [first, second, second]  # unchanged row kept; changed and new moved
    assert leftovers == ()
