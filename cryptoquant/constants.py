"""Canonical names shared by every layer: kline columns, intervals, table names."""

from __future__ import annotations

# Columns of a landed kline, in order (the staging table and every producer use these names).
KLINE_COLUMNS = (
    "symbol",
    "interval_code",
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trade_count",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)

# Binance's kline intervals and their length in seconds.
INTERVAL_SECONDS = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
}

# Landing tables in the staging database (DDL in cryptoquant/sql/staging.sql).
RAW_KLINES_TABLE = "raw_klines"
RAW_NEWS_TABLE = "raw_news"
DEAD_LETTER_TABLE = "dead_letter"
PIPELINE_RUNS_TABLE = "pipeline_runs"

MESSAGE_SCHEMA_VERSION = 1
