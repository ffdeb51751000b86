"""Indicator values for dbt tests without starting Spark.

The Spark job (spark.indicators.job) runs the same arithmetic as
``spark.indicators.compute.compute_indicators`` on each series inside ``mapInArrow``; calling
that pure function per series here gives the same numbers in a fraction of the time (no JVM
start-up). The rows go to staging.indicator_values in the job's own layout (the table is
created by the job's ``_store.ensure_tables``): one row per candle, a value and a gap flag per
indicator, null where undefined, one computed_at per landing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptoquant import db
from cryptoquant.config import Settings
from spark.indicators import _store
from spark.indicators.compute import compute_indicators, gap_flags
from spark.indicators.config import load_config_csv

INTERVAL_SECONDS = {"1h": 3600}


def _klines(settings: Settings) -> pd.DataFrame:
    columns = ["symbol", "interval_code", "open_time", "open", "high", "low", "close", "volume"]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select {', '.join(columns)} from raw_klines "
                    "order by symbol, interval_code, open_time")
        return pd.DataFrame(list(cur.fetchall()), columns=columns)


def expected_values(settings: Settings) -> pd.DataFrame:
    """Every defined value of every active indicator for every landed series, long:
    symbol, interval_code, indicator_code, open_time, value (the pure module: TA-Lib)."""
    specs = load_config_csv()
    frames = []
    for (symbol, interval_code), series in _klines(settings).groupby(
            ["symbol", "interval_code"], sort=True):
        series = series.reset_index(drop=True)
        wide = compute_indicators(series, specs)
        wide.index = pd.to_datetime(series["open_time"]).rename("open_time")
        long = wide.stack().rename("value").reset_index()  # drops NaN
        frames.append(long.rename(columns={"level_1": "indicator_code"}).assign(
            symbol=symbol, interval_code=interval_code))
    return pd.concat(frames, ignore_index=True)[
        ["symbol", "interval_code", "indicator_code", "open_time", "value"]]


def land_indicator_values(settings: Settings, upsert: bool = False) -> int:
    """Compute every active indicator for every landed series and write indicator_values
    (returns the rows: one per candle). ``upsert=False`` replaces the table's rows, all
    stamped now; ``upsert=True`` does what the job's upsert does: new rows inserted, and a
    stored row's values and computed_at replaced only where one of its values changed."""
    specs = load_config_csv()
    codes = [s.code for s in specs]
    _store.ensure_tables(settings, specs)
    now = _store.run_timestamp(settings)  # newer than every stored row, as the job's
    rows: list[tuple] = []
    for (symbol, interval_code), series in _klines(settings).groupby(
            ["symbol", "interval_code"], sort=True):
        series = series.reset_index(drop=True)
        values = compute_indicators(series, specs)
        flags = gap_flags(series, specs, INTERVAL_SECONDS[interval_code])
        defined = values.notna().to_numpy()
        value_cells = np.where(defined, values.to_numpy(dtype=object), None)
        flag_cells = np.where(defined, flags.to_numpy().astype(int).astype(object), None)
        times = [t.to_pydatetime() for t in pd.to_datetime(series["open_time"])]
        for t, v, g in zip(times, value_cells.tolist(), flag_cells.tolist(), strict=True):
            rows.append((symbol, interval_code, t, *v, *g, now))
    columns = [*_store.KEY_COLUMNS, *_store.value_columns(codes), _store.COMPUTED_AT]
    changed = " and ".join(f"`{c}` <=> values(`{c}`)" for c in _store.value_columns(codes))
    update = ", ".join(
        [f"computed_at = if({changed}, computed_at, values(computed_at))"]
        + [f"`{c}` = values(`{c}`)" for c in _store.value_columns(codes)])
    with db.staging(settings) as conn, conn.cursor() as cur:
        if not upsert:
            cur.execute(f"delete from {_store.VALUES_TABLE}")
        for i in range(0, len(rows), 5_000):
            cur.executemany(
                f"insert into {_store.VALUES_TABLE} ({', '.join(f'`{c}`' for c in columns)}) "
                f"values ({', '.join(['%s'] * len(columns))}) on duplicate key update {update}",
                rows[i:i + 5_000])
        conn.commit()
    return len(rows)
