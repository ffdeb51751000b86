"""Pipeline steps of the ingestion layer (see cryptoquant/pipeline.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from cryptoquant.config import Settings
from loaders.consumer import ConsumeLoop
from loaders.dead_letter import record_source_rejects
from loaders.news import publish_dataset
from loaders.sinks import KlineSink, NewsSink
from loaders.sources import CsvReplay, publish_candles

logger = logging.getLogger(__name__)

KLINES_GROUP = "cryptoquant-klines"
NEWS_GROUP = "cryptoquant-news"
# A drain reads a backlog: batches fill at once, and waiting the consumer's default second for
# more messages would only delay the last, partial batch.
DRAIN_BATCH_SECONDS = 0.2


def sample_kline_files(settings: Settings) -> list[Path]:
    """Kline files under CQ_DATA_DIR/klines for the configured symbols and intervals."""
    folder = settings.data_path / "klines"
    files = []
    for symbol in settings.symbol_list:
        for interval in settings.interval_list:
            files += sorted(folder.glob(f"{symbol}-{interval}-*.csv*"))
            files += sorted(folder.glob(f"{symbol}-{interval}-*.zip"))
    return sorted(set(files))


def replay_files(settings: Settings, files: list[Path], symbol: str | None = None,
                 interval: str | None = None, progress: bool = True) -> dict:
    source = CsvReplay(files, symbol, interval)
    summary = publish_candles(settings, source, progress=progress)
    summary["dead_lettered_rows"] = record_source_rejects(
        settings, ",".join(str(f) for f in files)[:200], source.rejected())
    return summary


def drain_klines(settings: Settings, progress: bool = True, **kwargs) -> dict:
    kwargs.setdefault("batch_seconds", DRAIN_BATCH_SECONDS)
    loop = ConsumeLoop(settings, KlineSink(settings), settings.kafka_topic_klines,
                       KLINES_GROUP, progress=progress, **kwargs)
    return loop.run(until_idle=True)


def drain_news(settings: Settings, progress: bool = True, **kwargs) -> dict:
    loop = ConsumeLoop(settings, NewsSink(settings), settings.kafka_topic_news, NEWS_GROUP,
                       progress=progress, **kwargs)
    return loop.run(until_idle=True)


def ingest_sample_klines(settings: Settings) -> dict:
    files = sample_kline_files(settings)
    if not files:
        raise FileNotFoundError(f"no kline files for {settings.symbol_list} in "
                                f"{settings.data_path / 'klines'}")
    published = replay_files(settings, files)
    landed = drain_klines(settings)
    return {"files": len(files), "published": published["published"],
            "rejected_rows": published["rejected"], **landed}


def ingest_sample_news(settings: Settings) -> dict:
    files = sorted((settings.data_path / "news").glob("*.csv*"))
    published = 0
    for path in files:
        published += publish_dataset(settings, path)["published"]
    landed = drain_news(settings)
    return {"files": len(files), "published": published, **landed}
