"""The kline source interface and the loop that publishes any source to Kafka."""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterator

from cryptoquant.config import Settings
from loaders.messages import encode_kline, kline_key
from loaders.producer import Publisher
from loaders.progress import Progress

logger = logging.getLogger(__name__)


class KlineSource(abc.ABC):
    """Yields closed candles as dicts with symbol, interval_code, open_time_ms, close_time_ms,
    open, high, low, close, volume and the optional Binance fields."""

    name: str = "abstract"

    @abc.abstractmethod
    def candles(self) -> Iterator[dict]:
        ...

    def rejected(self) -> list:
        """Inputs the source could not turn into candles (with reasons)."""
        return []


def publish_candles(settings: Settings, source: KlineSource, publisher: Publisher | None = None,
                    progress: bool = True) -> dict:
    """Publish every candle of ``source``; flushes and raises if any delivery failed."""
    own = publisher is None
    publisher = publisher or Publisher(settings)
    topic = settings.kafka_topic_klines
    meter = Progress(f"publish {source.name}", enabled=progress)
    count = 0
    for candle in source.candles():
        publisher.publish(topic, kline_key(candle["symbol"], candle["interval_code"]),
                          encode_kline(candle, source.name))
        count += 1
        meter.update(count)
    if own:
        publisher.flush()
    meter.done(count)
    rejected = source.rejected()
    for error in rejected[:20]:
        logger.warning("rejected input: %s", error)
    return {"published": count, "rejected": len(rejected), "topic": topic,
            "delivery_failures": publisher.failed}
