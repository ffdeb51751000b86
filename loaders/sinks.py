"""Where consumed messages land: one sink per staging table, each turning raw message values
into rows (or BadMessage) and writing a batch idempotently inside the caller's transaction.

A batch reaches ``write`` as ``(row, kafka_partition, kafka_offset)`` in consumption order
(within a partition, offset order)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import tempfile
from dataclasses import dataclass

import msgspec
import pymysql

from cryptoquant import db
from cryptoquant.config import Settings
from loaders.messages import BadMessage, decode_kline, decode_news, fast_kline, fast_klines

logger = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1)
_MS = dt.timedelta(milliseconds=1)
# LOAD DATA LOCAL refused by the server (MariaDB / MySQL 8 with local_infile off).
_LOCAL_INFILE_REFUSED = {1148, 3948}
_JSON_TEXT = msgspec.json.Encoder()


def _upsert_sql(table: str, columns: list[str], keys: list[str]) -> str:
    cols = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"`{c}` = values(`{c}`)" for c in columns if c not in keys)
    return f"insert into {table} ({cols}) values ({marks}) on duplicate key update {updates}"


@functools.lru_cache(maxsize=256)
def _tsv_text(value: str) -> str:
    """A string as a LOAD DATA field (default escapes: backslash, tab, newline)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


@dataclass
class PreparedKlines:
    """A batch of klines made ready to land (``KlineSink.prepare``): reduced to the last
    message per key, and the LOAD DATA text of those rows. ``len`` is the number of messages
    it came from."""

    rows: list[tuple]
    tsv: bytes | None
    messages: int

    def __len__(self) -> int:
        return self.messages


class KlineSink:
    """raw_klines, keyed by (symbol, interval_code, open_time). A message for a key already
    landed replaces its values: the later message wins, so a corrected candle (same key,
    new values) updates the row and a plain re-delivery rewrites identical values.

    A batch is reduced to the last message per key (batch order; for one series that is offset
    order, as Kafka keeps a key in one partition), bulk-loaded with ``LOAD DATA LOCAL INFILE``
    into a session temporary table and upserted into raw_klines with one ``INSERT ... SELECT
    ... ON DUPLICATE KEY UPDATE``. Where the server refuses LOAD DATA LOCAL, the temporary
    table is filled with a multi-row insert instead (slower, same result)."""

    table = "raw_klines"
    columns = ["symbol", "interval_code", "open_time", "close_time", "open", "high", "low",
               "close", "volume", "quote_volume", "trade_count", "taker_buy_base_volume",
               "taker_buy_quote_volume", "source", "schema_version", "ingested_at",
               "kafka_partition", "kafka_offset"]
    keys = ["symbol", "interval_code", "open_time"]
    batch_table = "cq_batch_klines"
    # The batch table holds open/close time as epoch milliseconds and the numbers and
    # ingested_at as text: LOAD DATA LOCAL treats every error as a warning (IGNORE), so the
    # conversions happen in the INSERT ... SELECT, where strict mode refuses what does not fit
    # (an out-of-range price fails the batch, as the row-by-row insert did) instead of
    # storing a clamped value. MEMORY, not InnoDB: a quarter less time per batch measured,
    # and the table is emptied before each batch anyway; ~0.5 kB a row, so the session's
    # max_heap_table_size is raised to hold the largest batch the CLI allows (100,000).
    _batch_ddl = (
        "create temporary table if not exists cq_batch_klines ("
        "symbol varchar(20) not null, interval_code varchar(8) not null, "
        "open_ms bigint not null, close_ms bigint not null, "
        "open varchar(32) character set latin1 not null, "
        "high varchar(32) character set latin1 not null, "
        "low varchar(32) character set latin1 not null, "
        "close varchar(32) character set latin1 not null, "
        "volume varchar(32) character set latin1 not null, "
        "quote_volume varchar(32) character set latin1 null, "
        "trade_count varchar(32) character set latin1 null, "
        "taker_buy_base_volume varchar(32) character set latin1 null, "
        "taker_buy_quote_volume varchar(32) character set latin1 null, "
        "source varchar(16) not null, schema_version smallint not null, "
        "ingested_at varchar(32) character set latin1 not null, "
        "kafka_partition int null, kafka_offset bigint null) engine = MEMORY")
    _heap_sql = "set session max_heap_table_size = greatest(@@max_heap_table_size, 268435456)"
    _batch_columns = ["symbol", "interval_code", "open_ms", "close_ms", *columns[4:]]

    def __init__(self, settings: Settings, bulk: bool = True):
        self.known_symbols = frozenset(settings.symbol_list)
        self.sql = _upsert_sql(self.table, self.columns, self.keys)
        self.bulk = bulk  # LOAD DATA LOCAL; False after the server refused it once
        epoch = "timestamp'1970-01-01 00:00:00'"
        selected = ["symbol", "interval_code", f"{epoch} + interval open_ms * 1000 microsecond",
                    f"{epoch} + interval close_ms * 1000 microsecond", *self.columns[4:]]
        updates = ", ".join(f"`{c}` = values(`{c}`)" for c in self.columns
                            if c not in self.keys)
        self.merge_sql = (
            f"insert into {self.table} ({', '.join(f'`{c}`' for c in self.columns)}) "
            f"select {', '.join(selected)} from {self.batch_table} "
            f"on duplicate key update {updates}")
        self.direct_load_sql = db.load_data_sql(
            self.table, ["symbol", "interval_code", "@open_ms", "@close_ms", *self.columns[4:]],
            f" set open_time = {epoch} + interval @open_ms * 1000 microsecond,"
            f" close_time = {epoch} + interval @close_ms * 1000 microsecond")
        self.insert_batch_sql = (
            f"insert into {self.batch_table} ({', '.join(self._batch_columns)}) "
            f"values ({', '.join(['%s'] * len(self._batch_columns))})")

    def decode(self, raw: bytes | None) -> tuple:
        """The row as a tuple in ``_batch_columns`` order without the Kafka position, or
        BadMessage."""
        fast = fast_kline(raw, self.known_symbols)
        if fast is not None:
            m, ingested_at = fast
            return (m.symbol, m.interval, m.open_time, m.close_time, m.open, m.high, m.low,
                    m.close, m.volume, m.quote_volume, m.trade_count, m.taker_buy_base_volume,
                    m.taker_buy_quote_volume, m.source, m.schema_version, ingested_at)
        return self._full_decode(raw)

    def decode_batch(self, raws: list[bytes | None]) -> list[tuple | BadMessage]:
        """``decode`` for every message of a batch, the refusal as a BadMessage in its
        place: the batch checks of ``fast_klines`` first (a third of the per-message cost),
        ``decode_kline`` for whatever they do not accept."""
        out = fast_klines(raws, self.known_symbols)
        for i, row in enumerate(out):
            if row is None:
                try:
                    out[i] = self._full_decode(raws[i])
                except BadMessage as exc:
                    out[i] = exc
        return out

    def _full_decode(self, raw: bytes | None) -> tuple:
        row = decode_kline(raw, self.known_symbols)  # the reason, or a shape only it accepts
        return (row["symbol"], row["interval_code"], (row["open_time"] - _EPOCH) // _MS,
                (row["close_time"] - _EPOCH) // _MS, row["open"], row["high"], row["low"],
                row["close"], row["volume"], row["quote_volume"], row["trade_count"],
                row["taker_buy_base_volume"], row["taker_buy_quote_volume"], row["source"],
                int(row["schema_version"]), row["ingested_at"].isoformat(sep=" "))

    @staticmethod
    def latest(rows: list[tuple]) -> list[tuple]:
        """One entry per key, the last in batch order, as ``row + (partition, offset)``."""
        return [(*row, partition, offset) for row, partition, offset in _last_per_key(rows)]

    def prepare(self, rows: list[tuple]) -> PreparedKlines:
        """The Python half of ``write``, which the consumer runs on its decoding thread so
        that the lander thread only talks to MariaDB: batches then load back to back instead
        of the database waiting while each one's file is built."""
        batch = _last_per_key(rows)
        return PreparedKlines(batch, self._tsv_bytes(batch) if self.bulk and batch else None,
                              len(rows))

    def write(self, cur, rows: list[tuple] | PreparedKlines) -> None:
        prepared = rows if isinstance(rows, PreparedKlines) else self.prepare(rows)
        if not prepared.rows:
            return
        if self.bulk:
            try:
                tsv = prepared.tsv
                if tsv is None:
                    tsv = self._tsv_bytes(prepared.rows)
                with self._tsv_file(tsv) as path:
                    if not self._insert_new(cur, path, len(prepared.rows)):
                        self._prepare_batch_table(cur)
                        cur.execute(db.load_data_sql(self.batch_table, self._batch_columns),
                                    (path,))
                        cur.execute(self.merge_sql)
                return
            except (pymysql.err.OperationalError, pymysql.err.ProgrammingError,
                    pymysql.err.InternalError, pymysql.err.NotSupportedError) as exc:
                if exc.args[0] not in _LOCAL_INFILE_REFUSED:
                    raise
                logger.warning("LOAD DATA LOCAL refused by the server (%s); landing klines "
                               "with multi-row inserts", exc.args[-1])
                self.bulk = False
        self._prepare_batch_table(cur)
        cur.executemany(self.insert_batch_sql, [  # numbers as the same text LOAD DATA gets
            tuple(repr(v) if isinstance(v, float) else v for v in (*row, partition, offset))
            for row, partition, offset in prepared.rows])
        cur.execute(self.merge_sql)

    def _insert_new(self, cur, path: str, count: int) -> bool:
        """The common case, a batch of candles not landed yet: LOAD DATA straight into
        raw_klines (half the database's work of load + upsert). True when every row went in
        without a warning; otherwise (a key already there, which LOAD DATA LOCAL skips, or a
        value it would clamp) the load is rolled back and False returned."""
        cur.execute("savepoint cq_klines_batch")
        inserted = cur.execute(self.direct_load_sql, (path,))
        if inserted == count and cur.warning_count == 0:  # from the load's OK packet
            return True
        cur.execute("rollback to savepoint cq_klines_batch")
        return False

    def _prepare_batch_table(self, cur) -> None:
        cur.execute(self._heap_sql)
        cur.execute(self._batch_ddl)
        cur.execute(f"delete from {self.batch_table}")

    @staticmethod
    @contextlib.contextmanager
    def _tsv_file(tsv: bytes):
        """A LOAD DATA file holding ``tsv``; yields its path."""
        with tempfile.NamedTemporaryFile("wb", prefix="cq-klines-", suffix=".tsv") as fh:
            fh.write(tsv)
            fh.flush()
            yield fh.name

    @staticmethod
    def _tsv_bytes(batch: list[tuple]) -> bytes:
        """A batch's ``(row, partition, offset)`` as LOAD DATA text (``_batch_columns``
        order).

        Built column by column: each numeric column becomes text in one JSON encoder call
        (the shortest round-trip digits, as ``repr`` gives them, null for none), each string
        once per distinct value, and a line is one bytes format, rather than a dozen
        conversions per row."""
        cols = list(zip(*[row for row, _, _ in batch], strict=True))
        _, partitions, offsets = zip(*batch, strict=True)
        fields = [_tsv_strings(cols[0], str.encode), _tsv_strings(cols[1], str.encode),
                  *(_tsv_numbers(col) for col in cols[2:13]),
                  _tsv_strings(cols[13], _tsv_text_bytes), _tsv_numbers(cols[14]),
                  _tsv_strings(cols[15], str.encode), _tsv_numbers(partitions),
                  _tsv_numbers(offsets)]
        line = b"\t".join([b"%b"] * len(fields)) + b"\n"
        return b"".join([line % r for r in zip(*fields, strict=True)])


def _last_per_key(rows: list[tuple]) -> list[tuple]:
    """The ``(row, partition, offset)`` entries of a batch that are the last of their key
    (symbol, interval, open time) in batch order; all of them when no key repeats."""
    last = {entry[0][:3]: i for i, entry in enumerate(rows)}
    if len(last) == len(rows):
        return rows
    return [rows[i] for i in sorted(last.values())]


def _tsv_text_bytes(value: str) -> bytes:
    return _tsv_text(value).encode()


def _tsv_strings(values: tuple, encode) -> list[bytes]:
    encoded = {v: encode(v) for v in set(values)}
    return [encoded[v] for v in values]


def _tsv_numbers(values: tuple) -> list[bytes]:
    """A column of ints and floats (finite: the decoders refuse the others) or None."""
    return _JSON_TEXT.encode(values)[1:-1].replace(b"null", b"\\N").split(b",")


class NewsSink:
    """raw_news, keyed by article_id (sha256 of the canonical URL); later message wins."""

    table = "raw_news"
    columns = ["article_id", "url", "title", "summary", "publisher", "subject", "published_at",
               "feed_url", "source", "raw_sentiment", "schema_version", "ingested_at"]
    keys = ["article_id"]

    def __init__(self, settings: Settings):
        self.sql = _upsert_sql(self.table, self.columns, self.keys)

    def decode(self, raw: bytes | None) -> dict:
        return decode_news(raw)

    def write(self, cur, rows: list[tuple]) -> None:
        if rows:
            cur.executemany(self.sql, [tuple(r[c] for c in self.columns) for r, _, _ in rows])
