"""Kline sources: one interface (KlineSource), one class per way of getting candles."""

from loaders.sources.backfill import RestBackfill
from loaders.sources.base import KlineSource, publish_candles
from loaders.sources.live import LiveStream
from loaders.sources.replay import CsvReplay

__all__ = ["KlineSource", "CsvReplay", "RestBackfill", "LiveStream", "publish_candles"]
