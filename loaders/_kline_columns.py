"""The fast path of reading a kline file: a chunk of CSV rows converted column by column.

``columns`` gives the chunk as whole columns when every row is clean, and None as soon as
anything is unusual (a short row, an empty or unparsable value, a non-ISO date, a candle that
fails validation...): the caller then reads that chunk row by row, which names the line and
the reason. So the fast path never decides what is an error; it only skips the per-row work
for rows that the row reader would accept, and gives the same values (``float()`` on every
number, the same timestamps; ``tests/loaders/test_csv_files.py`` holds both readers to it).

``arrow_columns`` is the same for a chunk given as the file's raw lines: Arrow's CSV reader
splits and converts them in C++ (a quarter of the CPU of ``csv.reader`` plus ``float()``, most
of it outside the GIL, which the drain running beside a replay needs). Arrow is stricter than
Python about what it reads (no ``1_000``, no empty numbers: it refuses them, and the chunk
goes row by row) and rounds decimal text to the nearest double as ``float()`` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv

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
    return _epoch_ns_of(np.fromiter(map(int, values), dtype=np.int64, count=len(values)))


def _epoch_ns_of(raw: np.ndarray) -> np.ndarray:
    if (raw < 0).any() or (raw >= _US_LIMIT).any():
        raise ValueError("epoch out of range")
    micro = raw >= 10**15
    if ((~micro) & (raw >= _MS_LIMIT)).any():
        raise ValueError("epoch out of range")
    return np.where(micro, raw * 1_000, raw * 1_000_000)


def _dates_ns(values) -> np.ndarray:
    """Naive ISO dates only: where a chunk has a UTC offset, pandas reads naive dates beside
    it in that offset (or gives objects), so such a chunk goes to the row reader."""
    stamps = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
    if not isinstance(stamps.dtype, np.dtype) or stamps.dtype.kind != "M":
        raise ValueError("dates with a UTC offset")
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
        else:
            open_ns = _dates_ns(by_name["date"])
    except (ValueError, TypeError, OverflowError, KeyError):
        return None
    if symbol is not None:
        symbols = np.full(n, symbol, dtype=object)
    else:
        symbols = np.array([t.strip().upper() for t in by_name["ticker"]], dtype=object)
    return _checked(layout, step, interval, symbols, open_ns,
                    close_ns if layout == "official" else None, out)


def arrow_columns(layout: str, header: list[str], symbol: str | None, interval: str,
                  data: bytes, lines: int) -> dict | None:
    """``columns`` for a chunk given as its raw lines (``data``, ``lines`` of them, without
    quotes or lone carriage returns: the caller checks), or None when the row reader must
    look at it (anything Arrow cannot read as the layout's types, a line count that differs)."""
    step = INTERVAL_SECONDS.get(interval)
    if step is None or not lines or len(set(header)) != len(header):
        return None
    wanted = {v: pa.float64() for v in _NUMBERS[layout].values()}
    if layout == "official":
        wanted.update(open_time=pa.int64(), close_time=pa.int64())
    else:
        wanted["date"] = pa.string()
    if symbol is None:
        wanted["ticker"] = pa.string()
    if not set(wanted) <= set(header):
        return None
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(column_names=header),
            # Empty lines are rows here (refused: wrong width), as csv.reader has them.
            parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=wanted, include_columns=list(wanted), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if table.num_rows != lines:
        return None
    try:
        out = {k: _finite(table.column(v)) for k, v in _NUMBERS[layout].items()}
        if layout == "official":
            open_ns = _epoch_ns_of(table.column("open_time").to_numpy())
            close_ns = _epoch_ns_of(table.column("close_time").to_numpy())
        else:
            open_ns = _dates_ns(table.column("date").to_numpy(zero_copy_only=False))
    except (ValueError, TypeError, OverflowError):
        return None
    if symbol is not None:
        symbols = np.full(lines, symbol, dtype=object)
    else:  # strip and upper once per distinct ticker
        codes = pa_compute.dictionary_encode(table.column("ticker")).combine_chunks()
        names = [t.strip().upper() for t in codes.dictionary.to_pylist()]
        symbols = np.array(names, dtype=object)[codes.indices.to_numpy()]
    return _checked(layout, step, interval, symbols, open_ns,
                    close_ns if layout == "official" else None, out)


def _finite(column) -> np.ndarray:
    out = column.to_numpy()
    if not np.isfinite(out).all():
        raise ValueError("non-finite number")
    return out


def _checked(layout: str, step: int, interval: str, symbols: np.ndarray, open_ns: np.ndarray,
             close_ns: np.ndarray | None, out: dict) -> dict | None:
    """The chunk's columns when every candle passes ``validate_candle``'s checks, else None."""
    n = len(symbols)
    if layout == "official":
        out["trade_count"] = np.trunc(out["trade_count"])  # the row reader's int(float)
    else:
        close_ns = open_ns + (step * 1000 - 1) * 1_000_000
        for key in ("quote_volume", "trade_count", "taker_buy_base_volume",
                    "taker_buy_quote_volume"):
            out[key] = np.full(n, np.nan)
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
