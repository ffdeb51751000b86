"""Load slices of the bundled real klines straight into staging, for tests of later layers
(dbt, Spark, backtest, API) that should not depend on the Kafka path (tested on its own)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from cryptoquant import db
from cryptoquant.config import PROJECT_ROOT, Settings

SAMPLE_KLINES = PROJECT_ROOT / "data" / "sample" / "klines"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
# The default test slice: 4 months that overlap the bundled news (2021-10 .. 2022-07).
SLICE_START = dt.datetime(2022, 1, 1)
SLICE_END = dt.datetime(2022, 5, 1)


def sample_file(symbol: str) -> Path:
    (path,) = SAMPLE_KLINES.glob(f"{symbol}-1h-2021-04-04_2023-12-30.csv.gz")
    return path


def read_sample(symbol: str, start: dt.datetime | None = None,
                end: dt.datetime | None = None) -> pd.DataFrame:
    """The bundled OHLCV rows of one symbol in [start, end), as floats, open_time naive UTC."""
    df = pd.read_csv(sample_file(symbol), parse_dates=["date"])
    df = df.rename(columns={"date": "open_time"}).drop(columns=["ticker"])
    if start is not None:
        df = df[df.open_time >= start]
    if end is not None:
        df = df[df.open_time < end]
    return df.reset_index(drop=True)


def land_klines(settings: Settings, symbols=SYMBOLS, start=SLICE_START, end=SLICE_END) -> int:
    """Insert the slice into staging.raw_klines as a replay would; returns rows landed."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for symbol in symbols:
        df = read_sample(symbol, start, end)
        for r in df.itertuples(index=False):
            close_time = r.open_time + pd.Timedelta(milliseconds=3_599_999)
            rows.append((symbol, "1h", r.open_time.to_pydatetime(), close_time.to_pydatetime(),
                         r.open, r.high, r.low, r.close, r.volume, "replay", 1, now))
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into raw_klines (symbol, interval_code, open_time, close_time, open, high, "
            "low, close, volume, source, schema_version, ingested_at) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on duplicate key update "
            "close = values(close)",
            rows,
        )
        conn.commit()
    return len(rows)
