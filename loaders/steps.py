"""Pipeline steps of the ingestion layer (see cryptoquant/pipeline.py)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from cryptoquant.config import Settings
from loaders.consumer import ConsumeLoop
from loaders.csv_files import iter_kline_chunks
from loaders.dead_letter import record_source_rejects
from loaders.messages import encode_kline, encode_kline_columns, kline_key
from loaders.news import publish_dataset
from loaders.producer import Publisher
from loaders.progress import Progress
from loaders.sinks import KlineSink, NewsSink
from loaders.sources.replay import CsvReplay, to_message_candle

logger = logging.getLogger(__name__)

KLINES_GROUP = "cryptoquant-klines"
NEWS_GROUP = "cryptoquant-news"
# A drain reads a backlog: batches fill at once, and waiting the consumer's default second for
# more messages would only delay the last, partial batch.
DRAIN_BATCH_SECONDS = 0.2
# Rows read and encoded at a time by a replay: the drain beside it gets its first batch after
# one chunk (a whole 24,000-row sample file before), and Arrow reads 10,000 rows as cheaply.
REPLAY_CHUNK = 10_000


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
    """Publish every good row of the kline files (what ``publish_candles`` does with a
    ``CsvReplay``, same messages) and dead-letter the rows that cannot be read.

    A clean chunk of a file (``iter_kline_chunks``) is encoded column-wise and produced in
    one loop, skipping the per-candle dict, encoder and callback calls: the replay took half
    as long. A chunk holding anything unusual is published candle by candle as before."""
    topic = settings.kafka_topic_klines
    meter = Progress(f"publish {CsvReplay.name}", enabled=progress)
    rejected, count = [], 0
    with Publisher(settings) as publisher:
        for path in files:
            for cols, rows in iter_kline_chunks(path, symbol, interval, size=REPLAY_CHUNK):
                if cols is not None:
                    keys = {}
                    publisher.publish_many(topic, [
                        keys.get(pair) or keys.setdefault(pair, kline_key(*pair))
                        for pair in zip(cols["symbol"].tolist(), cols["interval_code"].tolist(),
                                        strict=True)],
                        encode_kline_columns(cols, CsvReplay.name))
                    count += len(cols["symbol"])
                else:
                    for _line, candle, error in rows:
                        if error is not None:
                            rejected.append(error)
                            continue
                        publisher.publish(topic, kline_key(candle["symbol"],
                                                           candle["interval_code"]),
                                          encode_kline(to_message_candle(candle),
                                                       CsvReplay.name))
                        count += 1
                meter.update(count)
        publisher.flush()
    meter.done(count)
    for error in rejected[:20]:
        logger.warning("rejected input: %s", error)
    return {"published": count, "rejected": len(rejected), "topic": topic,
            "delivery_failures": publisher.failed,
            "dead_lettered_rows": record_source_rejects(
                settings, ",".join(str(f) for f in files)[:200], rejected)}


def drain_klines(settings: Settings, progress: bool = True, **kwargs) -> dict:
    kwargs.setdefault("batch_seconds", DRAIN_BATCH_SECONDS)
    loop = ConsumeLoop(settings, KlineSink(settings), settings.kafka_topic_klines,
                       KLINES_GROUP, progress=progress, **kwargs)
    return loop.run(until_idle=True)


def drain_news(settings: Settings, progress: bool = True, **kwargs) -> dict:
    loop = ConsumeLoop(settings, NewsSink(settings), settings.kafka_topic_news, NEWS_GROUP,
                       progress=progress, **kwargs)
    return loop.run(until_idle=True)


def _ensure_topic(settings: Settings, topic: str) -> None:
    from cryptoquant.stack.kafka import create_topics

    try:
        create_topics(settings, [topic])
    except Exception as exc:  # noqa: BLE001 - no create rights, or no broker: the producer
        # and the consumer report that themselves, with their own clear errors
        logger.warning("could not create topic %s (%s); the consumer waits for it", topic, exc)


def replay_and_drain(settings: Settings, files: list[Path], progress: bool = True
                     ) -> tuple[dict, dict]:
    """The replay with the drain running beside it on a thread (group join, then batches
    landing while later ones are still being published); the drain stops once the replay has
    finished and the topic has stayed empty for its idle time."""
    # The consumer subscribes before the first message is produced: make the topic now, or it
    # would report "unknown topic" until the producer's first write auto-creates it.
    _ensure_topic(settings, settings.kafka_topic_klines)
    replayed = threading.Event()
    landed, failed = {}, []

    def drain():
        try:
            landed.update(drain_klines(settings, progress=progress, backlog_complete=replayed))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=drain, name="cq-drain")
    worker.start()
    try:
        published = replay_files(settings, files, progress=progress)
    finally:
        replayed.set()
        worker.join()
    if failed:
        raise failed[0]
    return published, landed


def ingest_sample_klines(settings: Settings) -> dict:
    files = sample_kline_files(settings)
    if not files:
        raise FileNotFoundError(f"no kline files for {settings.symbol_list} in "
                                f"{settings.data_path / 'klines'}")
    published, landed = replay_and_drain(settings, files)
    return {"files": len(files), "published": published["published"],
            "rejected_rows": published["rejected"], **landed}


def ingest_sample_news(settings: Settings) -> dict:
    files = sorted((settings.data_path / "news").glob("*.csv*"))
    published = 0
    for path in files:
        published += publish_dataset(settings, path)["published"]
    landed = drain_news(settings)
    return {"files": len(files), "published": published, **landed}
