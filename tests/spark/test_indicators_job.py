"""The Spark indicator job against the real database: full run, no-op re-run, incremental
tail equal to a full recompute, a corrupt series reported while the others complete, a
configuration row that adds an indicator (and a column), and a table in the earlier long layout
converted and recomputed. Every stored value is compared with the pure module (TA-Lib), per
indicator and candle.

The warehouse side (dim_symbol, dim_interval, fact_kline, indicator_types) is a minimal
stand-in with the contract's columns, filled from staging.raw_klines, so these tests do not
depend on the dbt models' build time; the dbt models are tested in tests/dbt.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cryptoquant import db
from spark.indicators import compute_indicators, gap_flags, load_config_csv, load_config_db
from spark.indicators._store import GAP_PREFIX, gap_column
from spark.indicators.config import SEED_CSV
from spark.indicators.job import run_indicators
from tests.support.sample import land_klines, read_sample

pytestmark = [pytest.mark.spark, pytest.mark.integration]

SPECS = load_config_csv()
BTC_FIRST = (dt.datetime(2021, 4, 1), dt.datetime(2021, 9, 1))  # 3,5xx candles, 3 gaps
BTC_MORE = (dt.datetime(2021, 9, 1), dt.datetime(2021, 10, 10))  # the 2021-09-29 gap
SMALL = (dt.datetime(2022, 1, 1), dt.datetime(2022, 2, 1))
SMALL_MORE = (dt.datetime(2022, 2, 1), dt.datetime(2022, 2, 10))

WAREHOUSE_DDL = """
create table dim_symbol (symbol_id int primary key, symbol_code varchar(20) not null unique,
    base_asset varchar(10), quote_asset varchar(10));
insert into dim_symbol values (1, 'BTCUSDT', 'BTC', 'USDT'), (2, 'ETHUSDT', 'ETH', 'USDT'),
    (3, 'BNBUSDT', 'BNB', 'USDT'), (4, 'XRPUSDT', 'XRP', 'USDT');
create table dim_interval (interval_id int primary key, interval_code varchar(8) not null,
    interval_seconds int not null);
insert into dim_interval values (5, '1h', 3600);
create table fact_kline (symbol_id int not null, interval_id int not null,
    open_time datetime not null, close_time datetime(3) not null, open decimal(28, 10) not null,
    high decimal(28, 10) not null, low decimal(28, 10) not null,
    close decimal(28, 10) not null, volume decimal(36, 10) not null,
    is_placeholder_candle tinyint not null, primary key (symbol_id, interval_id, open_time));
create table indicator_types (indicator_code varchar(32) primary key,
    indicator_name varchar(128), ta_function varchar(32), output_name varchar(32),
    timeperiod int, fastperiod int, slowperiod int, signalperiod int, nbdev double,
    description varchar(512), is_active int)
"""


def refresh_fact_kline(settings) -> None:
    """What dbt's base stage does for these columns: raw_klines -> fact_kline."""
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(
            f"insert ignore into fact_kline select s.symbol_id, i.interval_id, r.open_time, "
            "r.close_time, r.open, r.high, r.low, r.close, r.volume, "
            "r.volume = 0 and r.high = r.low "
            f"from `{settings.mysql_staging_database}`.raw_klines r "
            "join dim_symbol s on s.symbol_code = r.symbol "
            "join dim_interval i on i.interval_code = r.interval_code")
        conn.commit()


def stand_in_warehouse(settings) -> None:
    """The warehouse tables the job reads, with the seed's indicator configuration."""
    with db.warehouse(settings) as conn:
        db.run_sql_script(conn, WAREHOUSE_DDL)
    seed = pd.read_csv(SEED_CSV).astype(object).where(lambda d: d.notna(), None)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into indicator_types values (" + ", ".join(["%s"] * len(seed.columns))
            + ")", seed.to_records(index=False).tolist())
        conn.commit()


@pytest.fixture(scope="module")
def job_settings(make_settings):
    settings = make_settings("ind")
    stand_in_warehouse(settings)
    land_klines(settings, ["BTCUSDT"], *BTC_FIRST)
    land_klines(settings, ["ETHUSDT", "BNBUSDT"], *SMALL)
    refresh_fact_kline(settings)
    return settings


def stored(settings, symbol: str) -> dict[str, pd.DataFrame]:
    """{"value": ..., "gap": ...}: the symbol's stored rows by open_time, a column per code."""
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select * from indicator_values where symbol = %s order by open_time",
                    (symbol,))
        columns = [d[0] for d in cur.description]
        df = pd.DataFrame(list(cur.fetchall()), columns=columns).set_index("open_time")
    gaps = [c for c in columns if c.startswith(GAP_PREFIX)]
    codes = [c.removeprefix(GAP_PREFIX) for c in gaps]
    return {"value": df[codes].astype("float64"),
            "gap": df[gaps].set_axis(codes, axis=1)}


def snapshot(settings) -> tuple:
    """(rows, defined values, their sum, gap flags set, newest and oldest computed_at)."""
    codes = [s.code for s in SPECS]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select count(*), " + " + ".join(f"count({c})" for c in codes) + ", "
                    + " + ".join(f"coalesce(sum({c}), 0)" for c in codes) + ", "
                    + " + ".join(f"coalesce(sum({gap_column(c)}), 0)" for c in codes)
                    + ", max(computed_at), min(computed_at) from indicator_values")
        return cur.fetchone()


def assert_matches_pure(settings, symbol: str, start: dt.datetime, end: dt.datetime,
                        specs=SPECS) -> int:
    """Every stored value equals the pure module on the whole CSV slice; returns values."""
    candles = read_sample(symbol, start, end)
    expected = compute_indicators(candles, specs).set_index(candles.open_time)
    flags = gap_flags(candles, specs, 3600).set_index(candles.open_time)
    got = stored(settings, symbol)
    total = 0
    for spec in specs:
        exp = expected[spec.code].dropna()
        val = got["value"][spec.code].dropna()
        assert list(got["value"].index) == list(candles.open_time)  # a row per candle
        assert list(val.index) == list(exp.index), f"{symbol} {spec.code}: candles differ"
        assert list(got["gap"][spec.code].dropna().index) == list(exp.index)  # flag iff value
        atol = 1e-9 if spec.code == "bb_percent_b" else 0.0
        diff = np.abs(val.to_numpy() - exp.to_numpy())
        assert (diff <= np.maximum(1e-9 * np.abs(exp.to_numpy()), atol)).all(), spec.code
        assert (got["gap"][spec.code].dropna().astype(bool).to_numpy()
                == flags[spec.code][exp.index].to_numpy()).all(), spec.code
        total += len(exp)
    return total


def test_full_run_writes_every_defined_value(job_settings, spark):
    summary = run_indicators(job_settings, spark)
    assert summary["full"] == ["BNBUSDT/1h", "BTCUSDT/1h", "ETHUSDT/1h"]
    assert summary["failed"] == {}
    total = sum(assert_matches_pure(job_settings, s, *r) for s, r in
                [("BTCUSDT", BTC_FIRST), ("ETHUSDT", SMALL), ("BNBUSDT", SMALL)])
    candles = sum(len(read_sample(s, *r)) for s, r in
                  [("BTCUSDT", BTC_FIRST), ("ETHUSDT", SMALL), ("BNBUSDT", SMALL)])
    rows, values, _, flagged, _, _ = snapshot(job_settings)
    assert summary["rows_written"] == candles == rows  # one row per candle
    assert values == total
    assert flagged > 0  # the 2021 outages are flagged


def test_rerun_is_a_no_op(job_settings, spark):
    before = snapshot(job_settings)
    summary = run_indicators(job_settings, spark)
    assert summary["up_to_date"] == ["BNBUSDT/1h", "BTCUSDT/1h", "ETHUSDT/1h"]
    assert summary["rows_written"] == 0 and summary["candles_read"] == 0
    refresh = run_indicators(job_settings, spark, full_refresh=True)
    assert refresh["rows_written"] == before[0]
    assert before[4] == before[5]  # one computed_at for the first run's rows
    assert snapshot(job_settings) == before  # same rows, values and computed_at
    with db.staging(job_settings) as conn, conn.cursor() as cur:
        cur.execute("show tables like '\\_stg\\_%'")
        assert cur.fetchall() == ()  # each run's staging table is dropped


def test_incremental_tail_equals_full_recompute(job_settings, spark):
    land_klines(job_settings, ["BTCUSDT"], *BTC_MORE)
    land_klines(job_settings, ["ETHUSDT"], *SMALL_MORE)
    refresh_fact_kline(job_settings)
    summary = run_indicators(job_settings, spark)
    assert summary["incremental"] == ["BTCUSDT/1h"]
    assert summary["full"] == ["ETHUSDT/1h"]  # shorter than the warm-up: recomputed whole
    assert summary["up_to_date"] == ["BNBUSDT/1h"]
    new_btc = len(read_sample("BTCUSDT", *BTC_MORE))
    assert summary["candles_read"] - len(read_sample("ETHUSDT", SMALL[0], SMALL_MORE[1])) \
        == 2964 + new_btc
    assert_matches_pure(job_settings, "BTCUSDT", BTC_FIRST[0], BTC_MORE[1])
    assert_matches_pure(job_settings, "ETHUSDT", SMALL[0], SMALL_MORE[1])


def test_corrupt_series_is_reported_and_the_others_complete(job_settings, spark):
    land_klines(job_settings, ["BNBUSDT"], *SMALL_MORE)
    refresh_fact_kline(job_settings)
    with db.warehouse(job_settings) as conn, conn.cursor() as cur:
        cur.execute("insert into fact_kline values (4, 5, '2022-01-01 00:00:00', "
                    "'2022-01-01 00:59:59.999', 1, 1.1, 0.9, 1, 10, 0), "
                    "(4, 5, '2022-01-01 01:00:00', '2022-01-01 01:59:59.999', 1, 0.8, 0.9, 1, 10, "
                    "0)")
        conn.commit()
    summary = run_indicators(job_settings, spark)
    assert list(summary["failed"]) == ["XRPUSDT/1h"]
    assert "high/low" in summary["failed"]["XRPUSDT/1h"]
    assert summary["full"] == ["BNBUSDT/1h", "XRPUSDT/1h"]  # BNB: new candles, short series
    assert summary["up_to_date"] == ["BTCUSDT/1h", "ETHUSDT/1h"]
    assert_matches_pure(job_settings, "BNBUSDT", SMALL[0], SMALL_MORE[1])
    assert stored(job_settings, "XRPUSDT")["value"].empty
    again = run_indicators(job_settings, spark, symbols=["XRPUSDT"])
    assert list(again["failed"]) == ["XRPUSDT/1h"]  # still reported, not forgotten


def test_a_config_row_adds_an_indicator(job_settings, spark):
    with db.warehouse(job_settings) as conn, conn.cursor() as cur:
        cur.execute("insert into indicator_types (indicator_code, indicator_name, ta_function, "
                    "output_name, timeperiod, is_active) values "
                    "('ema_100', 'EMA(100)', 'EMA', 'real', 100, 1)")
        conn.commit()
    summary = run_indicators(job_settings, spark, symbols=["ETHUSDT", "BNBUSDT"])
    assert summary["full"] == ["BNBUSDT/1h", "ETHUSDT/1h"]  # configuration changed
    specs = load_config_db(job_settings)
    assert {s.code for s in specs} == {s.code for s in SPECS} | {"ema_100"}
    assert_matches_pure(job_settings, "ETHUSDT", SMALL[0], SMALL_MORE[1], specs)
    assert stored(job_settings, "ETHUSDT")["value"]["ema_100"].notna().sum() == \
        len(read_sample("ETHUSDT", SMALL[0], SMALL_MORE[1])) - 99


def test_a_long_table_is_converted_then_recomputed_without_moving_computed_at(make_settings,
                                                                             spark):
    """A deployment upgraded from the long layout: the earlier job's values (every defined one,
    its gap flag, one computed_at) and its state saying the series is up to date. The next run
    converts the table, recomputes the series in full, and finds every value equal: no row's
    computed_at moves, so dbt has nothing to reload."""
    from tests.spark.test_indicators_store import LONG_DDL

    settings = make_settings("indlong")
    stand_in_warehouse(settings)
    land_klines(settings, ["ETHUSDT"], *SMALL)
    refresh_fact_kline(settings)
    assert run_indicators(settings, spark)["full"] == ["ETHUSDT/1h"]  # state as a run leaves it
    candles = read_sample("ETHUSDT", *SMALL)
    values = compute_indicators(candles, SPECS).set_index(candles.open_time)
    flags = gap_flags(candles, SPECS, 3600).set_index(candles.open_time)
    then = dt.datetime(2026, 1, 2, 3, 4, 5)
    long_rows = [("ETHUSDT", "1h", code, t.to_pydatetime(), float(v), int(flags[code][t]), then)
                 for code in values.columns for t, v in values[code].dropna().items()]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("drop table indicator_values")
        cur.execute(LONG_DDL)
        cur.executemany("insert into indicator_values values (%s, %s, %s, %s, %s, %s, %s)",
                        long_rows)
        conn.commit()

    summary = run_indicators(settings, spark)
    assert summary["full"] == ["ETHUSDT/1h"] and summary["up_to_date"] == []
    assert assert_matches_pure(settings, "ETHUSDT", *SMALL) == len(long_rows)
    assert snapshot(settings)[4:] == (then, then)  # recomputed, equal, not moved
    assert run_indicators(settings, spark)["up_to_date"] == ["ETHUSDT/1h"]
