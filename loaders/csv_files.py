"""Reading Binance kline CSV files: the official 12-column public-data layout
(data.binance.vision, with or without a header, open_time in ms or µs) and the OHLCV layout of
the bundled sample (``date,open,high,low,close,volume,ticker``); plain, .gz or .zip.

Rows that cannot be read are returned as errors naming the file, line and reason: never
silently dropped. Symbol and interval come from arguments or the file name (BTCUSDT-1h-...).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cryptoquant.constants import INTERVAL_SECONDS, KLINE_COLUMNS
from loaders._kline_columns import arrow_columns, columns

OFFICIAL_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
    "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
OHLCV_COLUMNS = ("date", "open", "high", "low", "close", "volume")
NAME_PATTERN = re.compile(r"^(?P<symbol>[A-Z0-9]{5,20})[-_](?P<interval>\d+[mhdwM])\b")


@dataclass(frozen=True)
class RowError:
    path: str
    line: int
    reason: str
    raw: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class KlineFileError(ValueError):
    """The file as a whole cannot be read (unknown layout, no symbol, ...)."""


def symbol_interval_from_name(path: Path) -> tuple[str | None, str | None]:
    match = NAME_PATTERN.match(path.name)
    if not match:
        return None, None
    return match["symbol"], match["interval"]


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".zip":
        zf = zipfile.ZipFile(path)
        members = [n for n in zf.namelist() if n.lower().endswith(".csv")]
        if len(members) != 1:
            raise KlineFileError(f"{path}: expected one .csv inside the zip, found {members}")
        return zf.open(members[0])
    return open(path, "rb")  # noqa: SIM115 - caller closes


def _open_text(path: Path) -> io.TextIOBase:
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8", newline="")


def _epoch_to_timestamp(value: str) -> pd.Timestamp:
    number = int(value)
    # Binance switched spot files to microseconds in 2025; milliseconds before.
    unit = "us" if number >= 10**15 else "ms"
    return pd.Timestamp(number, unit=unit)


def _number(row: dict, key: str, required: bool = True) -> float | None:
    raw = row.get(key)
    if raw is None or raw == "":
        if required:
            raise ValueError(f"missing {key}")
        return None
    value = float(raw)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{key} is not a finite number: {raw!r}")
    return value


def validate_candle(c: dict, interval: str, open_time_ms: int) -> str | None:
    """The reason a candle is impossible, or None. Shared by the CSV reader and the consumer."""
    step = INTERVAL_SECONDS.get(interval)
    if step is None:
        return f"unknown interval {interval!r}"
    o, h, lo, cl, v = c["open"], c["high"], c["low"], c["close"], c["volume"]
    for key, value in (("open", o), ("high", h), ("low", lo), ("close", cl)):
        if not value > 0:
            return f"{key} must be positive, got {value}"
    if not v >= 0:
        return f"volume must not be negative, got {v}"
    if h < lo:
        return f"high {h} is below low {lo}"
    if lo > min(o, cl) or max(o, cl) > h:
        return "open/close outside the high-low range"
    if open_time_ms % (step * 1000) != 0:
        return f"open_time {open_time_ms} is not aligned to the {interval} interval"
    return None


def _parse_official(row: dict) -> dict:
    open_time = _epoch_to_timestamp(row["open_time"])
    close_time = _epoch_to_timestamp(row["close_time"]) if row.get("close_time") else None
    count = _number(row, "count", required=False)
    return {
        "open_time": open_time,
        "close_time": close_time,
        "open": _number(row, "open"),
        "high": _number(row, "high"),
        "low": _number(row, "low"),
        "close": _number(row, "close"),
        "volume": _number(row, "volume"),
        "quote_volume": _number(row, "quote_volume", required=False),
        "trade_count": None if count is None else int(count),
        "taker_buy_base_volume": _number(row, "taker_buy_volume", required=False),
        "taker_buy_quote_volume": _number(row, "taker_buy_quote_volume", required=False),
    }


def _parse_ohlcv(row: dict) -> dict:
    open_time = pd.Timestamp(row["date"])
    if open_time.tzinfo is not None:
        open_time = open_time.tz_convert("UTC").tz_localize(None)
    return {
        "open_time": open_time,
        "close_time": None,
        "open": _number(row, "open"),
        "high": _number(row, "high"),
        "low": _number(row, "low"),
        "close": _number(row, "close"),
        "volume": _number(row, "volume"),
        "quote_volume": None,
        "trade_count": None,
        "taker_buy_base_volume": None,
        "taker_buy_quote_volume": None,
    }


def _layout(first: list[str]) -> tuple[str, bool]:
    """(layout, has_header) from the first CSV row."""
    lowered = [c.strip().lower() for c in first]
    if lowered[:1] == ["open_time"]:
        return "official", True
    if lowered[:1] in (["date"], ["open_time"]) or set(OHLCV_COLUMNS) <= set(lowered):
        return "ohlcv", True
    if len(first) == 12 and first[0].strip().isdigit():
        return "official", False
    raise KlineFileError(
        f"unrecognised layout (first row {first[:6]}...): expected Binance's 12-column "
        "public-data layout or date,open,high,low,close,volume[,ticker]"
    )


@dataclass
class _Source:
    """An opened kline file: its layout, resolved symbol/interval and numbered data rows."""

    path: Path
    layout: str
    header: list[str]
    symbol: str | None
    interval: str
    rows: Iterator[tuple[int, list[str]]]


def _resolve(path: Path, first: list[str], symbol: str | None, interval: str | None
             ) -> tuple[_Source, bool]:
    """The file's _Source (without rows) from its first CSV row, and whether that row is a
    header."""
    name_symbol, name_interval = symbol_interval_from_name(path)
    symbol = (symbol or name_symbol or "").upper() or None
    interval = interval or name_interval
    layout, has_header = _layout(first)
    if layout == "official":
        header = [c.strip().lower() for c in first] if has_header else list(OFFICIAL_COLUMNS)
    else:
        header = [c.strip().lower() for c in first]
    if "ticker" in header and symbol is None:
        pass  # taken per row below
    elif symbol is None:
        raise KlineFileError(f"{path}: no symbol in the file name; pass --symbol")
    if interval is None:
        raise KlineFileError(f"{path}: no interval in the file name; pass --interval")
    return _Source(path, layout, header, symbol, interval, iter(())), has_header


@contextlib.contextmanager
def _source(path: str | Path, symbol: str | None, interval: str | None):
    """The file as a _Source, or None when it has no rows at all."""
    path = Path(path)
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        try:
            first = next(reader)
        except StopIteration:
            yield None
            return
        src, has_header = _resolve(path, first, symbol, interval)
        rows = reader if has_header else _chain_first(first, reader)
        src.rows = enumerate(rows, start=2 if has_header else 1)
        yield src


def _read_row(src: _Source, line: int, values: list[str]):
    """(line, candle, None), (line, None, RowError), or None for a blank row."""
    path, header, symbol, interval = src.path, src.header, src.symbol, src.interval
    raw = ",".join(values)
    if not values or all(not v.strip() for v in values):
        return None
    if len(values) != len(header):
        return line, None, RowError(str(path), line,
                                    f"expected {len(header)} fields, got {len(values)}", raw)
    row = dict(zip(header, values, strict=True))
    parse = _parse_official if src.layout == "official" else _parse_ohlcv
    try:
        candle = parse(row)
    except (ValueError, OverflowError) as exc:
        return line, None, RowError(str(path), line, f"unreadable value: {exc}", raw)
    row_symbol = symbol or row.get("ticker", "").strip().upper()
    if not row_symbol:
        return line, None, RowError(str(path), line, "no symbol", raw)
    if candle["close_time"] is None:
        candle["close_time"] = candle["open_time"] + pd.Timedelta(
            seconds=INTERVAL_SECONDS.get(interval, 0)) - pd.Timedelta(milliseconds=1)
    reason = validate_candle(candle, interval, candle["open_time"].value // 1_000_000)
    if reason:
        return line, None, RowError(str(path), line, reason, raw)
    return line, {"symbol": row_symbol, "interval_code": interval, **candle}, None


def iter_kline_rows(path: str | Path, symbol: str | None = None, interval: str | None = None):
    """Yield (line_number, candle_dict | None, RowError | None) for every data row."""
    with _source(path, symbol, interval) as src:
        if src is None:
            return
        for line, values in src.rows:
            out = _read_row(src, line, values)
            if out is not None:
                yield out


def iter_kline_chunks(path: str | Path, symbol: str | None = None,
                      interval: str | None = None, size: int = 50_000):
    """Yield ``(columns, [])`` for each clean chunk of up to ``size`` rows (whole columns,
    converted at once: see ``loaders/_kline_columns.py``) and ``(None, rows)`` for a chunk
    holding anything unusual, read row by row exactly as ``iter_kline_rows`` does.

    The file's raw lines are cut into chunks and handed to Arrow (``_raw_chunks``); from the
    first chunk holding a quote, a NUL or a lone carriage return on (where a line may not be
    one CSV row), ``csv.reader`` reads the rest, as it reads the rows of a chunk that Arrow
    does not take. Either way the chunks are the same ``size`` rows with the same answers."""
    done = yield from _raw_chunks(Path(path), symbol, interval, size)
    if done is None:
        return
    with _source(path, symbol, interval) as src:
        if src is None:
            return
        rows = itertools.islice(src.rows, done, None)
        while chunk := list(itertools.islice(rows, size)):
            cols = columns(src.layout, src.header, src.symbol, src.interval,
                           [values for _, values in chunk])
            if cols is not None:
                yield cols, []
            else:
                yield None, [out for out in (_read_row(src, line, values)
                                             for line, values in chunk) if out is not None]


def _plain(data: bytes) -> bool:
    """Lines that are CSV rows one for one, and that Arrow reads as csv.reader does."""
    return b'"' not in data and b"\0" not in data and data.count(b"\r") == data.count(b"\r\n")


def _raw_chunks(path: Path, symbol: str | None, interval: str | None, size: int):
    """``iter_kline_chunks``'s chunks from the raw lines; returns None at the end of the
    file, or the number of data rows read when ``csv.reader`` must read the rest."""
    with _open_binary(path) as fh:
        first_raw = fh.readline()
        if not first_raw:
            return None
        if not _plain(first_raw):
            return 0
        first = next(csv.reader([first_raw.decode("utf-8")]), [])
        src, has_header = _resolve(path, first, symbol, interval)
        start = 2 if has_header else 1
        done = 0
        for data, lines in _line_chunks(fh, size, b"" if has_header else first_raw):
            if not _plain(data):
                return done
            cols = arrow_columns(src.layout, src.header, src.symbol, src.interval, data,
                                 lines)
            if cols is not None:
                yield cols, []
            else:
                rows = csv.reader(data.decode("utf-8").splitlines(keepends=True))
                yield None, [out for out in (_read_row(src, start + done + i, values)
                                             for i, values in enumerate(rows))
                             if out is not None]
            done += lines
    return None


def _line_chunks(fh, size: int, head: bytes, block: int = 1 << 20):
    """``head`` and the rest of a binary stream as ``(data, lines)``: ``size`` lines at a
    time (the last chunk fewer, its last line perhaps without a newline), read in blocks:
    iterating a gzip or zip stream line by line is a Python call per line."""
    pieces = head.split(b"\n")  # [..., the unfinished last line]
    eof = False
    while True:
        while len(pieces) <= size and not eof:
            more = fh.read(block)
            if more:
                tail = more.split(b"\n")
                pieces[-1] += tail[0]
                pieces += tail[1:]
            else:
                eof = True
        if len(pieces) > size:
            yield b"\n".join(pieces[:size]) + b"\n", size
            pieces = pieces[size:]
        else:
            count = len(pieces) - (pieces[-1] == b"")
            if count:
                yield b"\n".join(pieces), count
            return


def _chain_first(first, rest):
    yield first
    yield from rest


def read_kline_csv(path: str | Path, symbol: str | None = None,
                   interval: str | None = None) -> tuple[pd.DataFrame, list[RowError]]:
    """All good rows as a DataFrame with KLINE_COLUMNS (in file order) and the bad rows.

    open_time/close_time are naive UTC Timestamps; every number is float64, NaN where the
    layout has no such column."""
    frames, errors = [], []
    for cols, rows in iter_kline_chunks(path, symbol, interval):
        if cols is not None:
            frames.append(pd.DataFrame(cols, columns=list(KLINE_COLUMNS)))
            continue
        candles = []
        for _line, candle, error in rows:
            if error is not None:
                errors.append(error)
            else:
                candles.append(candle)
        frames.append(pd.DataFrame(candles, columns=list(KLINE_COLUMNS)))
    frames = [f for f in frames if len(f)] or [pd.DataFrame([], columns=list(KLINE_COLUMNS))]
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    # Numbers as float64 with NaN for the extras a layout lacks (the OHLCV layout has no quote
    # volume, trade count or taker volumes); trade_count too, so its dtype never depends on
    # the file (counts are exact in a float up to 2**53).
    for col in ("open", "high", "low", "close", "volume", "quote_volume", "trade_count",
                "taker_buy_base_volume", "taker_buy_quote_volume"):
        df[col] = df[col].astype("float64")
    return df, errors
