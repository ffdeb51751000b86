"""Where consumed messages land: one sink per staging table, each turning raw message values
into rows (or BadMessage) and writing a batch idempotently inside the caller's transaction."""

from __future__ import annotations

from cryptoquant.config import Settings
from loaders.messages import decode_kline, decode_news


def _upsert_sql(table: str, columns: list[str], keys: list[str]) -> str:
    cols = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"`{c}` = values(`{c}`)" for c in columns if c not in keys)
    return f"insert into {table} ({cols}) values ({marks}) on duplicate key update {updates}"


class KlineSink:
    """raw_klines, keyed by (symbol, interval_code, open_time). A message for a key already
    landed replaces its values: the later message wins, so a corrected candle (same key,
    new values) updates the row and a plain re-delivery rewrites identical values."""

    table = "raw_klines"
    columns = ["symbol", "interval_code", "open_time", "close_time", "open", "high", "low",
               "close", "volume", "quote_volume", "trade_count", "taker_buy_base_volume",
               "taker_buy_quote_volume", "source", "schema_version", "ingested_at",
               "kafka_partition", "kafka_offset"]
    keys = ["symbol", "interval_code", "open_time"]

    def __init__(self, settings: Settings):
        self.known_symbols = frozenset(settings.symbol_list)
        self.sql = _upsert_sql(self.table, self.columns, self.keys)

    def decode(self, raw: bytes | None) -> dict:
        return decode_kline(raw, self.known_symbols)

    def write(self, cur, rows: list[dict]) -> None:
        if rows:
            cur.executemany(self.sql, [tuple(r[c] for c in self.columns) for r in rows])


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

    def write(self, cur, rows: list[dict]) -> None:
        if rows:
            cur.executemany(self.sql, [tuple(r[c] for c in self.columns) for r in rows])
