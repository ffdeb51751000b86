"""Indicator values for dbt tests without starting Spark.

The Spark job (spark.indicators.job) runs the same arithmetic as
``spark.indicators.compute.compute_indicators`` on each series inside ``mapInArrow``; calling
that pure function per series here gives the same numbers in a fraction of the time (no JVM
start-up),
written to staging.indicator_values in the contract's layout.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from cryptoquant import db
from cryptoquant.config import Settings
from spark.indicators.compute import compute_indicators
from spark.indicators.config import load_config_csv

DDL = """
create table if not exists indicator_values (
    symbol          varchar(20) not null,
    interval_code   varchar(8)  not null,
    indicator_code  varchar(32) not null,
    open_time       datetime(3) not null,
    value           double      null,
    computed_at     datetime(3) not null,
    primary key (symbol, interval_code, indicator_code, open_time)
) engine = InnoDB default charset = utf8mb4
"""


def _klines(settings: Settings) -> pd.DataFrame:
    columns = ["symbol", "interval_code", "open_time", "open", "high", "low", "close", "volume"]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select {', '.join(columns)} from raw_klines "
                    "order by symbol, interval_code, open_time")
        return pd.DataFrame(list(cur.fetchall()), columns=columns)


def land_indicator_values(settings: Settings) -> int:
    """Compute every active indicator for every landed series; replace indicator_values."""
    specs = load_config_csv()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows: list[tuple] = []
    for (symbol, interval_code), series in _klines(settings).groupby(
            ["symbol", "interval_code"], sort=True):
        series = series.reset_index(drop=True)
        wide = compute_indicators(series, specs)
        times = [t.to_pydatetime() for t in pd.to_datetime(series["open_time"])]
        for code in wide.columns:
            values = wide[code].to_numpy()
            for t, v in zip(times, values, strict=True):
                if np.isfinite(v):
                    rows.append((symbol, interval_code, code, t, float(v), now))
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        cur.execute("delete from indicator_values")
        for i in range(0, len(rows), 20_000):
            cur.executemany(
                "insert into indicator_values (symbol, interval_code, indicator_code, open_time, "
                "value, computed_at) values (%s, %s, %s, %s, %s, %s)", rows[i:i + 20_000])
        conn.commit()
    return len(rows)
