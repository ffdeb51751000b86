"""fact_indicator from Spark's wide indicator_values: dbt's unpivot (stg_spark__indicator_values)
gives exactly the long rows the job used to write, one per defined value, and nothing for the
undefined ones; checked against the pure module (TA-Lib) value by value and as row counts per
indicator, after a full build and after an incremental run that reads only the rows Spark
changed. A table still in the earlier long layout stops the build with what to do.

The values come from ``tests.dbt.indicator_fixture`` (the job's arithmetic and table layout,
without starting Spark); tests/spark/test_indicators_job.py checks the job writes the same.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from cryptoquant import db
from cryptoquant.dbt import DbtFailed
from cryptoquant.dbt import run_dbt as _run_dbt
from spark.indicators.config import load_config_csv
from tests.dbt.conftest import fetch
from tests.dbt.indicator_fixture import expected_values, land_indicator_values
from tests.support.sample import land_klines

pytestmark = pytest.mark.integration

START, CUT, END = dt.datetime(2021, 9, 1), dt.datetime(2021, 11, 1), dt.datetime(2021, 11, 2)
MODELS = ["--select", "symbols", "intervals", "indicator_types", "stg_binance__klines",
          "stg_spark__indicator_values", "dim_symbol", "dim_interval", "dim_indicator_type",
          "fact_kline", "fact_indicator"]  # and the generic tests on them alone
CODES = [s.code for s in load_config_csv()]


def loaded(settings) -> pd.DataFrame:
    """fact_indicator as the old contract's long rows: symbol, interval, code, open_time."""
    rows = fetch(settings, """
        select s.symbol_code, i.interval_code, t.indicator_code, f.open_time, f.indicator_value,
               f.computed_at
        from fact_indicator f
        join dim_symbol s on s.symbol_id = f.symbol_id
        join dim_interval i on i.interval_id = f.interval_id
        join dim_indicator_type t on t.indicator_type_id = f.indicator_type_id""")
    return pd.DataFrame(rows, columns=["symbol", "interval_code", "indicator_code", "open_time",
                                       "value", "computed_at"])


def assert_equals_pure(settings) -> pd.DataFrame:
    key = ["symbol", "interval_code", "indicator_code", "open_time"]
    got = loaded(settings).sort_values(key, ignore_index=True)
    expected = expected_values(settings).sort_values(key, ignore_index=True)
    counts = got.groupby("indicator_code").size()
    assert counts.to_dict() == expected.groupby("indicator_code").size().to_dict()
    assert sorted(counts.index) == sorted(CODES)  # every indicator, none invented
    assert got[key].equals(expected[key])  # the same candles per indicator, no null value
    assert (got.value == expected.value).all()  # doubles, unchanged through the unpivot
    return got


@pytest.fixture(scope="module")
def unpivot(make_settings, dbt_target_path):
    settings = make_settings("dbtind")

    def run_dbt(*args):
        return _run_dbt(settings, [*args, "--target-path", dbt_target_path], capture=True)

    land_klines(settings, start=START, end=CUT)
    land_indicator_values(settings)
    run_dbt("build", "--indirect-selection", "cautious", *MODELS)
    return settings, run_dbt


def test_full_build_has_every_defined_value_and_no_other(unpivot):
    settings, _ = unpivot
    got = assert_equals_pure(settings)
    # the warm-up candles of a series: EMA(200) undefined for 199 candles, OBV from the first
    first = got[got.symbol == "ETHUSDT"].groupby("indicator_code").open_time.min()
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select open_time from indicator_values where symbol = 'ETHUSDT' "
                    "order by open_time limit 1 offset 199")
        (two_hundredth,) = cur.fetchone()
    assert first["ema_200"] == two_hundredth and first["obv"] == pd.Timestamp(START)


def test_incremental_run_loads_the_changed_rows(unpivot):
    settings, run_dbt = unpivot
    before = loaded(settings).set_index(["symbol", "indicator_code", "open_time"]).computed_at
    land_klines(settings, start=CUT, end=END)  # one more day per symbol
    land_indicator_values(settings, upsert=True)
    run_dbt("run", *MODELS)
    got = assert_equals_pure(settings).set_index(["symbol", "indicator_code", "open_time"])
    new = got.index.get_level_values("open_time") >= pd.Timestamp(CUT)
    assert new.sum() == 3 * 24 * len(CODES)
    assert (got.computed_at[new] > before.max()).all()
    assert got.computed_at[~new].equals(before.loc[got.index[~new]])  # old values untouched


def test_a_long_table_stops_the_build_with_what_to_do(unpivot):
    from tests.spark.test_indicators_store import LONG_DDL

    settings, run_dbt = unpivot
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("rename table indicator_values to indicator_values_wide")
        cur.execute(LONG_DDL)
    try:
        with pytest.raises(DbtFailed, match="long layout"):
            run_dbt("run", "--select", "fact_indicator")
    finally:
        with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("drop table indicator_values")
            cur.execute("rename table indicator_values_wide to indicator_values")
