"""`cryptoquant ingest ...` (producers) and `cryptoquant consume ...` (consumers)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from cryptoquant.config import Settings
from cryptoquant.constants import INTERVAL_SECONDS


def _echo(summary: dict) -> None:
    click.echo(json.dumps(summary, default=str, indent=2))


def _ms(value: str) -> int:
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date/time like 2024-01-31 or "
                                 "2024-01-31T12:00") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1000)


interval_option = click.option("--interval", type=click.Choice(sorted(INTERVAL_SECONDS)),
                               help="Kline interval (default: from the file name / settings).")


@click.group()
def ingest() -> None:
    """Producers: put raw klines and news on Kafka."""


@ingest.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--symbol", help="Symbol, when the file name does not say (BTCUSDT-1h-...).")
@interval_option
@click.option("--sample", is_flag=True, help="Replay the bundled files for CQ_SYMBOLS.")
@click.pass_obj
def replay(settings: Settings, paths, symbol, interval, sample) -> None:
    """Replay Binance kline CSV files (12-column public-data or OHLCV; plain/.gz/.zip)."""
    from loaders.steps import replay_files, sample_kline_files

    files = list(paths) + (sample_kline_files(settings) if sample else [])
    if not files:
        raise click.UsageError("give one or more CSV files, or --sample")
    _echo(replay_files(settings, files, symbol, interval))


@ingest.command()
@click.option("--symbol", "symbols", multiple=True, help="Symbol (repeatable; default CQ_SYMBOLS).")
@interval_option
@click.option("--start", help="UTC start (ISO date); default: after the last landed candle.")
@click.option("--end", help="UTC end (ISO date); default: now.")
@click.pass_obj
def backfill(settings: Settings, symbols, interval, start, end) -> None:
    """Fetch closed candles from Binance REST (paginated, resumable, rate-limit aware)."""
    from loaders.sources import RestBackfill, publish_candles
    from loaders.sources.backfill import ExchangeError, resume_point

    interval = interval or settings.interval_list[0]
    default_start = _ms(start) if start else _ms("2021-01-01")
    out = {}
    for symbol in symbols or settings.symbol_list:
        begin = _ms(start) if start else resume_point(settings, symbol, interval, default_start)
        source = RestBackfill(settings, symbol, interval, begin, _ms(end) if end else None)
        try:
            out[symbol] = publish_candles(settings, source)
        except ExchangeError as exc:
            raise click.ClickException(str(exc)) from exc
    _echo(out)


@ingest.command()
@click.option("--symbol", "symbols", multiple=True, help="Symbol (repeatable; default CQ_SYMBOLS).")
@interval_option
@click.option("--max-candles", type=click.IntRange(min=1), help="Stop after this many candles.")
@click.pass_obj
def live(settings: Settings, symbols, interval, max_candles) -> None:
    """Stream closed candles from the Binance WebSocket; gaps are filled through REST."""
    import signal
    import threading

    from loaders.sources import LiveStream, publish_candles
    from loaders.sources.backfill import resume_point

    interval = interval or settings.interval_list[0]
    symbols = [s.upper() for s in symbols] or settings.symbol_list
    step = INTERVAL_SECONDS[interval] * 1000
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    after = {}
    for s in symbols:
        nxt = resume_point(settings, s, interval, -1)
        if nxt >= 0:
            after[s] = nxt - step
    stream = LiveStream(settings, symbols, interval, after, max_candles, stop)
    _echo(publish_candles(settings, stream))


@ingest.command()
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Import a news dataset file (the bundled cryptonews CSV layout).")
@click.option("--feeds", is_flag=True, help="Crawl the RSS/Atom feeds in CQ_NEWS_FEEDS.")
@click.option("--feed", "feed_urls", multiple=True, help="Crawl this feed URL (repeatable).")
@click.pass_obj
def news(settings: Settings, dataset, feeds, feed_urls) -> None:
    """Publish news articles: the bundled dataset and/or RSS/Atom feeds."""
    from loaders.news import FeedCrawler, publish_dataset

    if not (dataset or feeds or feed_urls):
        raise click.UsageError("give --dataset FILE, --feeds or --feed URL")
    out = {}
    if dataset:
        out["dataset"] = publish_dataset(settings, dataset)
    if feeds or feed_urls:
        out["feeds"] = FeedCrawler(settings).crawl(list(feed_urls) or None)
    _echo(out)


@click.group()
def consume() -> None:
    """Consumers: land Kafka messages in the staging tables."""


def _consume_options(f):
    f = click.option("--until-idle", is_flag=True,
                     help="Drain the topic and exit (batch runs, CI).")(f)
    f = click.option("--batch-size", default=5000, show_default=True,
                     type=click.IntRange(1, 100000), help="Messages per database transaction.")(f)
    f = click.option("--group", help="Consumer group id.")(f)
    f = click.option("--stall-seconds", default=60.0, show_default=True,
                     type=click.FloatRange(min=1),
                     help="Re-create the Kafka consumer when messages wait but none arrived "
                          "for this long (a client stuck after a broker restart).")(f)
    return f


@consume.command()
@_consume_options
@click.pass_obj
def klines(settings: Settings, until_idle, batch_size, group, stall_seconds) -> None:
    """Land klines in staging.raw_klines (bad messages to the dead-letter table/topic)."""
    from loaders.consumer import ConsumeLoop
    from loaders.sinks import KlineSink
    from loaders.steps import KLINES_GROUP

    loop = ConsumeLoop(settings, KlineSink(settings), settings.kafka_topic_klines,
                       group or KLINES_GROUP, batch_size=batch_size,
                       stall_seconds=stall_seconds)
    _echo(loop.run(until_idle=until_idle))


@consume.command("news")
@_consume_options
@click.pass_obj
def news_consumer(settings: Settings, until_idle, batch_size, group, stall_seconds) -> None:
    """Land news articles in staging.raw_news."""
    from loaders.consumer import ConsumeLoop
    from loaders.sinks import NewsSink
    from loaders.steps import NEWS_GROUP

    loop = ConsumeLoop(settings, NewsSink(settings), settings.kafka_topic_news,
                       group or NEWS_GROUP, batch_size=batch_size,
                       stall_seconds=stall_seconds)
    _echo(loop.run(until_idle=until_idle))
