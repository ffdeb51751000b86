"""The fast path of reading a kline file: a chunk of CSV rows converted column by column.

``columns`` gives the chunk as whole columns when every row is clean, and None as soon as
anything is unusual (a short row, an empty or unparsable value, a non-ISO date, a candle that
fails validation...): the caller then reads that chunk row by row, which names the line and
the reason. So the fast path never decides what is an error; it only skips the per-row work
for rows that the row reader would accept, and gives the same values (``float()`` on every
number, the same timestamps; ``tests/loaders/test_csv_files.py`` holds both readers to it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptoquant.constants import INTERVAL_SECONDS

_MS_LIMIT = 9_000_000_000_000  # epoch ms of ~2255: datetime64[ns] holds it
_US_LIMIT = _MS_LIMIT * 1000
_NUMBERS = {"official": {"open": "open", "high": "high", "low": "low", "close": "close",
                         "volume": "volume", "quote_volume": "quote_volume",
                         "trade_count": "count", "taker_buy_base_volume": "taker_buy_volume",
                         "taker_buy_quote_volume": "taker_buy_quote_volume"},
            "ohlcv": {"open": "open", "high": "high", "low": "low", "close": "close",
                      "volume": "volume"}}


def _floats(values: tuple[str, ...]) -> np.ndarray:
    out = np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    if not np.isfinite(out).all():
        raise ValueError("non-finite number")
    return out


def _epoch_ns(values: tuple[str, ...]) -> np.ndarray:
    """Binance epoch times, milliseconds or (since 2025) microseconds per value, as ns."""
    raw = np.fromiter(map(int, values), dtype=np.int64, count=len(values))
    if (raw < 0).any() or (raw >= _US_LIMIT).any():
        raise ValueError("epoch out of range")
    micro = raw >= 10**15
    if ((~micro) & (raw >= _MS_LIMIT)).any():
        raise ValueError("epoch out of range")
    return np.where(micro, raw * 1_000, raw * 1_000_000)


def _dates_ns(values: tuple[str, ...]) -> np.ndarray:
    stamps = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.to_numpy("datetime64[ns]").astype(np.int64)


def columns(layout: str, header: list[str], symbol: str | None, interval: str,
            rows: list[list[str]]) -> dict | None:
    """KLINE_COLUMNS as arrays (times as datetime64[ns], numbers float64 with NaN where the
    layout has none), or None when the row reader must look at this chunk."""
    step = INTERVAL_SECONDS.get(interval)
    width = len(header)
    if step is None or not rows or any(len(r) != width for r in rows):
        return None
    by_name = dict(zip(header, zip(*rows, strict=True), strict=True))
    n = len(rows)
    try:
        out = {k: _floats(by_name[v]) for k, v in _NUMBERS[layout].items()}
        if layout == "official":
            open_ns = _epoch_ns(by_name["open_time"])
            close_ns = _epoch_ns(by_name["close_time"])
            out["trade_count"] = np.trunc(out["trade_count"])  # the row reader's int(float)
        else:
            open_ns = _dates_ns(by_name["date"])
            close_ns = open_ns + (step * 1000 - 1) * 1_000_000
            for key in ("quote_volume", "trade_count", "taker_buy_base_volume",
                        "taker_buy_quote_volume"):
                out[key] = np.full(n, np.nan)
    except (ValueError, TypeError, OverflowError, KeyError):
        return None
    if symbol is not None:
        symbols = np.full(n, symbol, dtype=object)
    else:
        symbols = np.array([t.strip().upper() for t in by_name["ticker"]], dtype=object)
        if not symbols.all():
            return None
    o, h, lo, c, v = (out[k] for k in ("open", "high", "low", "close", "volume"))
    valid = ((o > 0) & (h > 0) & (lo > 0) & (c > 0) & (v >= 0) & (h >= lo)
             & (lo <= np.minimum(o, c)) & (np.maximum(o, c) <= h)
             & ((open_ns // 1_000_000) % (step * 1000) == 0))
    if not valid.all():
        return None
    return {"symbol": symbols, "interval_code": np.full(n, interval, dtype=object),
            "open_time": open_ns.astype("datetime64[ns]"),
            "close_time": close_ns.astype("datetime64[ns]"), **out}
