"""The wire format on Kafka: key ``SYMBOL|INTERVAL`` (one series stays in one partition, in
order) and a JSON value carrying a schema version, the producing source and ``ingested_at``.

Parsing is strict: anything a consumer cannot land raises BadMessage with the reason, and the
message goes to the dead-letter table and topic.

Klines are encoded and decoded with msgspec (a typed decode is ~10x cheaper than ``json.loads``
plus field checks). ``fast_kline`` is the fast path for a message exactly as the producers write
it; whatever it does not accept goes through ``decode_kline``, which gives the reason (or, for the
few shapes it tolerates and the fast path does not, the row).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import math
import time

import msgspec

from cryptoquant.constants import INTERVAL_SECONDS, MESSAGE_SCHEMA_VERSION
from loaders.csv_files import validate_candle

KLINE_NUMBERS = ("open", "high", "low", "close", "volume")
KLINE_OPTIONAL = ("quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume")
NEWS_REQUIRED = ("article_id", "url", "title", "published_at")


class BadMessage(ValueError):
    """A message that cannot be landed; str() is the reason stored with it."""


def _builtin(value):
    """msgspec's hook for numpy scalars (a float64 from a DataFrame) and Decimals."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


# Unlike json.dumps (which wrote Infinity/NaN, refused by the consumer), a non-finite number
# is written as null: still refused, as a missing field.
_JSON = msgspec.json.Encoder(enc_hook=_builtin)


def utc_now_iso() -> str:
    """Now in UTC, ISO with milliseconds and ``Z``; formatted once per millisecond."""
    return _iso_of_ms(time.time_ns() // 1_000_000)


@functools.lru_cache(maxsize=8)
def _iso_of_ms(ms: int) -> str:
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def kline_key(symbol: str, interval: str) -> bytes:
    return f"{symbol}|{interval}".encode()


def encode_kline(candle: dict, source: str, ingested_at: str | None = None) -> bytes:
    """``candle`` has symbol, interval_code, open_time_ms, close_time_ms and the numbers."""
    body = {
        "schema_version": MESSAGE_SCHEMA_VERSION,
        "source": source,
        "ingested_at": ingested_at or utc_now_iso(),
        "symbol": candle["symbol"],
        "interval": candle["interval_code"],
        "open_time": int(candle["open_time_ms"]),
        "close_time": int(candle["close_time_ms"]),
        "open": candle["open"], "high": candle["high"], "low": candle["low"],
        "close": candle["close"], "volume": candle["volume"],
    }
    for key in KLINE_OPTIONAL:
        value = candle.get(key)
        body[key] = None if value is None or value != value else value  # NaN: none given
    count = candle.get("trade_count")
    body["trade_count"] = None if count is None or count != count else int(count)
    return _JSON.encode(body)


_COLUMN_MESSAGE = (b',"symbol":%b,"interval":%b,"open_time":%b,"close_time":%b,"open":%b,'
                   b'"high":%b,"low":%b,"close":%b,"volume":%b,"quote_volume":%b,'
                   b'"taker_buy_base_volume":%b,"taker_buy_quote_volume":%b,"trade_count":%b}')


def _json_texts(values: list) -> list[bytes]:
    """Each number (or None) of a list as its JSON text, from one encoder call: a list of
    numbers and nulls has no comma but its separators."""
    return _JSON.encode(values)[1:-1].split(b",") if values else []


def _json_strings(values: list[str]) -> list[bytes]:
    encoded = {v: _JSON.encode(v) for v in set(values)}  # a chunk has one or a few symbols
    return [encoded[v] for v in values]


def encode_kline_columns(cols: dict, source: str, ingested_at: str | None = None) -> list[bytes]:
    """The messages of a clean chunk of candles given as columns (``iter_kline_chunks``: times
    as datetime64[ns], numbers float64 with NaN for none), byte for byte what ``encode_kline``
    writes for each candle, at a third of the cost: each column is converted to JSON text in
    one call, and a row is one bytes format. One ``ingested_at`` stamps the whole chunk."""
    import numpy as np

    head = _JSON.encode({"schema_version": MESSAGE_SCHEMA_VERSION, "source": source,
                         "ingested_at": ingested_at or utc_now_iso()})[:-1]
    template = head + _COLUMN_MESSAGE
    counts = cols["trade_count"]
    missing = np.isnan(counts)
    trade_counts = _json_texts(np.where(missing, 0, counts).astype(np.int64).tolist())
    if missing.any():
        trade_counts = [b"null" if m else t for m, t in zip(missing.tolist(), trade_counts,
                                                              strict=True)]
    return [template % r for r in zip(
        _json_strings(cols["symbol"].tolist()), _json_strings(cols["interval_code"].tolist()),
        *(_json_texts((cols[k].astype(np.int64) // 1_000_000).tolist())
          for k in ("open_time", "close_time")),
        *(_json_texts(cols[k].tolist()) for k in (*KLINE_NUMBERS, *KLINE_OPTIONAL)),
        trade_counts, strict=True)]


def _as_float(body: dict, key: str, required: bool = True) -> float | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadMessage(f"missing field {key!r}")
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadMessage(f"field {key!r} is not a number: {value!r}") from None
    if math.isnan(number) or math.isinf(number):
        raise BadMessage(f"field {key!r} is not a finite number: {value!r}")
    return number


def _as_ms(body: dict, key: str) -> int:
    value = body.get(key)
    if value is None:
        raise BadMessage(f"missing field {key!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise BadMessage(f"field {key!r} must be epoch milliseconds, got {value!r}")
    return int(value)


def _load(raw: bytes | None) -> dict:
    if raw is None:
        raise BadMessage("empty message (no value)")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadMessage(f"JSON value must be an object, got {type(body).__name__}")
    version = body.get("schema_version")
    if version != MESSAGE_SCHEMA_VERSION:
        raise BadMessage(f"unsupported schema_version {version!r} "
                         f"(this consumer reads {MESSAGE_SCHEMA_VERSION})")
    return body


def _as_text(body: dict, key: str, required: bool = True, limit: int = 1024) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise BadMessage(f"missing field {key!r}")
        return None
    if not isinstance(value, str):
        raise BadMessage(f"field {key!r} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadMessage(f"field {key!r} is longer than {limit} characters")
    return value


def _ingested_at(body: dict) -> dt.datetime:
    raw = _as_text(body, "ingested_at")
    try:
        stamp = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadMessage(f"field 'ingested_at' is not an ISO timestamp: {raw!r}") from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp


def _ms_to_datetime(ms: int) -> dt.datetime:
    try:
        return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
    except OverflowError:  # a poison message must be dead-lettered, not stop the consumer
        raise BadMessage(f"epoch milliseconds {ms} out of range") from None


def decode_kline(raw: bytes | None, known_symbols: frozenset[str] | None = None) -> dict:
    """A landable row (staging.raw_klines columns) or BadMessage."""
    body = _load(raw)
    symbol = _as_text(body, "symbol", limit=20)
    if not symbol.isalnum() or not symbol.isupper():
        raise BadMessage(f"malformed symbol {symbol!r}")
    if known_symbols is not None and symbol not in known_symbols:
        raise BadMessage(f"unknown symbol {symbol!r} (configured: {', '.join(sorted(known_symbols))})")
    interval = _as_text(body, "interval", limit=8)
    if interval not in INTERVAL_SECONDS:
        raise BadMessage(f"unknown interval {interval!r}")
    open_ms, close_ms = _as_ms(body, "open_time"), _as_ms(body, "close_time")
    row = {k: _as_float(body, k) for k in KLINE_NUMBERS}
    reason = validate_candle(row, interval, open_ms)
    if reason:
        raise BadMessage(reason)
    if close_ms <= open_ms:
        raise BadMessage(f"close_time {close_ms} is not after open_time {open_ms}")
    for key in KLINE_OPTIONAL:
        row[key] = _as_float(body, key, required=False)
    count = body.get("trade_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise BadMessage(f"field 'trade_count' must be a non-negative integer, got {count!r}")
    source = _as_text(body, "source", limit=16)
    return {
        "symbol": symbol, "interval_code": interval,
        "open_time": _ms_to_datetime(open_ms), "close_time": _ms_to_datetime(close_ms),
        **row, "trade_count": count, "source": source,
        "schema_version": body["schema_version"], "ingested_at": _ingested_at(body),
    }


class KlineWire(msgspec.Struct, gc=False):
    """A kline message exactly as the producers write it (types only; ``fast_kline`` checks
    the values). Untracked by the garbage collector (``gc=False``: its fields are numbers and
    strings, so it can hold no cycle): a batch of them no longer triggers collections."""

    schema_version: int
    source: str
    ingested_at: str
    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float | None = None
    taker_buy_base_volume: float | None = None
    taker_buy_quote_volume: float | None = None
    trade_count: int | None = None


_KLINE_DECODER = msgspec.json.Decoder(KlineWire)
_MAX_MS = 253_402_300_800_000  # 10000-01-01: beyond it decode_kline decides


def fast_kline(raw: bytes | None, known_symbols: frozenset[str] | None = None
               ) -> tuple[KlineWire, str] | None:
    """(message, ingested_at as naive-UTC SQL text) when the message passes every check of
    ``decode_kline``, else None: the caller then runs ``decode_kline`` for the reason. Never
    accepts what ``decode_kline`` refuses, and reads the same values (tests hold both to it)."""
    if raw is None:
        return None
    try:
        m = _KLINE_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    symbol, open_ms, close_ms = m.symbol, m.open_time, m.close_time
    step = INTERVAL_SECONDS.get(m.interval)
    o, h, lo, c, v = m.open, m.high, m.low, m.close, m.volume
    if not (m.schema_version == MESSAGE_SCHEMA_VERSION and step is not None
            and 0 < len(symbol) <= 20 and symbol.isalnum() and symbol.isupper()
            and (known_symbols is None or symbol in known_symbols)
            and 0 <= open_ms < close_ms < _MAX_MS and open_ms % (step * 1000) == 0
            and 0 < lo <= o <= h < math.inf and lo <= c <= h and 0 <= v < math.inf
            and 0 < len(m.source) <= 16 and 0 < len(m.ingested_at) <= 1024
            and (m.trade_count is None or m.trade_count >= 0)):
        return None
    for extra in (m.quote_volume, m.taker_buy_base_volume, m.taker_buy_quote_volume):
        if extra is not None and not math.isfinite(extra):
            return None
    ingested = _ingested_at_sql(m.ingested_at)
    if ingested is None:
        return None
    return m, ingested


def fast_klines(raws: list[bytes | None], known_symbols: frozenset[str] | None = None
                ) -> list[tuple | None]:
    """``fast_kline`` for a batch: per message, the row as ``(symbol, interval, open_time,
    close_time, open, high, low, close, volume, quote_volume, trade_count,
    taker_buy_base_volume, taker_buy_quote_volume, source, schema_version, ingested_at as
    naive-UTC SQL text)`` when it passes every check of ``decode_kline``, else None (the
    caller runs ``decode_kline`` for the reason).

    Each message is still decoded by itself (joining a batch into one JSON array would let a
    malformed message pair up with its neighbour), but the checks run once per column over
    the batch, and once per distinct value for the strings (a batch has a few symbols and
    stamps), instead of once per message: the same checks as ``fast_kline`` (tests hold the
    two to the same answers)."""
    import numpy as np

    out: list[tuple | None] = [None] * len(raws)
    decode = _KLINE_DECODER.decode
    try:  # the common case, every message decodes: one loop in C
        ms = list(map(decode, raws))
        where = range(len(raws))
    except (msgspec.DecodeError, UnicodeDecodeError, TypeError):  # TypeError: None
        where, ms = [], []
        for i, raw in enumerate(raws):
            if raw is not None:
                try:
                    ms.append(decode(raw))
                except (msgspec.DecodeError, UnicodeDecodeError):
                    continue
                where.append(i)
    if not ms:
        return out
    symbols = [m.symbol for m in ms]
    intervals = [m.interval for m in ms]
    sources = [m.source for m in ms]
    stamps = [m.ingested_at for m in ms]
    versions = [m.schema_version for m in ms]
    opens, closes = [m.open_time for m in ms], [m.close_time for m in ms]
    numbers = [[m.open for m in ms], [m.high for m in ms], [m.low for m in ms],
               [m.close for m in ms], [m.volume for m in ms]]
    quotes, base_volumes, quote_volumes = extras = (
        [m.quote_volume for m in ms], [m.taker_buy_base_volume for m in ms],
        [m.taker_buy_quote_volume for m in ms])
    counts = [m.trade_count for m in ms]
    symbol_ok = {s: 0 < len(s) <= 20 and s.isalnum() and s.isupper()
                 and (known_symbols is None or s in known_symbols) for s in set(symbols)}
    source_ok = {s: 0 < len(s) <= 16 for s in set(sources)}
    sql_stamp = {s: _ingested_at_sql(s) if 0 < len(s) <= 1024 else None for s in set(stamps)}
    step_ms = {iv: INTERVAL_SECONDS.get(iv, 0) * 1000 for iv in set(intervals)}
    try:
        open_ms = np.array(opens, dtype=np.int64)
        close_ms = np.array(closes, dtype=np.int64)
    except OverflowError:  # beyond 64 bits: fast_kline answers each message
        return [_fast_row(raw, known_symbols) for raw in raws]
    steps = np.array([step_ms[iv] for iv in intervals], dtype=np.int64)
    o, h, lo, c, v = (np.array(col, dtype=np.float64) for col in numbers)
    with np.errstate(invalid="ignore"):
        ok = ((np.array(versions) == MESSAGE_SCHEMA_VERSION) & (steps > 0)
              & (open_ms >= 0) & (open_ms < close_ms) & (close_ms < _MAX_MS)
              & (open_ms % np.maximum(steps, 1) == 0)
              & (lo > 0) & (lo <= o) & (o <= h) & (h < math.inf) & (lo <= c) & (c <= h)
              & (v >= 0) & (v < math.inf))
        for col in extras:  # None, or a finite number
            ok &= ~np.isinf(np.array(col, dtype=np.float64))
    if any(counts):  # None or a non-negative count
        ok &= np.array([n is None or n >= 0 for n in counts])
    for check, values in ((symbol_ok, symbols), (source_ok, sources), (sql_stamp, stamps)):
        if not all(check.values()):
            ok &= np.array([bool(check[x]) for x in values])
    rows = zip(symbols, intervals, opens, closes, *numbers, quotes, counts, base_volumes,
               quote_volumes, sources, versions,
               [sql_stamp[x] for x in stamps] if len(sql_stamp) > 1
               else [sql_stamp[stamps[0]]] * len(stamps), strict=True)
    if ok.all() and len(ms) == len(raws):
        return list(rows)
    for k, (row, good) in enumerate(zip(rows, ok.tolist(), strict=True)):
        if good:
            out[where[k]] = row
    return out


def _fast_row(raw: bytes | None, known_symbols: frozenset[str] | None) -> tuple | None:
    fast = fast_kline(raw, known_symbols)
    if fast is None:
        return None
    m, ingested_at = fast
    return (m.symbol, m.interval, m.open_time, m.close_time, m.open, m.high, m.low, m.close,
            m.volume, m.quote_volume, m.trade_count, m.taker_buy_base_volume,
            m.taker_buy_quote_volume, m.source, m.schema_version, ingested_at)


@functools.lru_cache(maxsize=4096)  # a producer stamps thousands of messages per millisecond
def _ingested_at_sql(raw: str) -> str | None:
    try:
        return _ingested_at({"ingested_at": raw}).isoformat(sep=" ")
    except BadMessage:
        return None


def encode_news(article: dict, source: str, ingested_at: str | None = None) -> bytes:
    body = {"schema_version": MESSAGE_SCHEMA_VERSION, "source": source,
            "ingested_at": ingested_at or utc_now_iso(), **article}
    if isinstance(body.get("published_at"), dt.datetime):
        body["published_at"] = body["published_at"].strftime("%Y-%m-%dT%H:%M:%S")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode_news(raw: bytes | None) -> dict:
    body = _load(raw)
    for key in NEWS_REQUIRED:
        _as_text(body, key, limit=4096)
    article_id = body["article_id"]
    if len(article_id) != 64 or any(c not in "0123456789abcdef" for c in article_id):
        raise BadMessage(f"article_id must be a sha256 hex digest, got {article_id!r}")
    try:
        published = dt.datetime.fromisoformat(body["published_at"].replace("Z", "+00:00"))
    except ValueError:
        raise BadMessage(f"published_at is not an ISO timestamp: {body['published_at']!r}") from None
    if published.tzinfo is not None:
        published = published.astimezone(dt.UTC).replace(tzinfo=None)
    return {
        "article_id": article_id,
        "url": _as_text(body, "url", limit=1024),
        "title": _as_text(body, "title", limit=1024),
        "summary": _as_text(body, "summary", required=False, limit=65000),
        "publisher": _as_text(body, "publisher", required=False, limit=128),
        "subject": _as_text(body, "subject", required=False, limit=64),
        "published_at": published,
        "feed_url": _as_text(body, "feed_url", required=False, limit=1024),
        "source": _as_text(body, "source", limit=16),
        "raw_sentiment": _as_text(body, "raw_sentiment", required=False, limit=255),
        "schema_version": body["schema_version"],
        "ingested_at": _ingested_at(body),
    }
