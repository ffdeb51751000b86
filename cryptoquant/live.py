"""Live refresh: keep the prediction fresh while closed candles stream in.

``cryptoquant pipeline live`` runs, in one process:

* the kline consumer (``loaders.consumer.ConsumeLoop``, the same group as the batch steps) in
  a thread, landing ``cq.klines.raw`` in ``staging.raw_klines`` as it arrives (``--no-consume``
  when ``cryptoquant consume klines`` runs elsewhere);
* optionally (``--ingest``) the WebSocket producer (``loaders.sources.LiveStream``, the code of
  ``cryptoquant ingest live``) in another thread;
* a refresh loop that polls ``max(landed_at)`` of ``raw_klines`` and, whenever new candles
  have landed, runs one round of the incremental steps that the prediction needs:

  1. ``dbt run --select fact_kline`` (incremental on ``landed_at``);
  2. the Spark indicator job (``spark.indicators.job.run_indicators``) in incremental mode, on a
     SparkSession started once and kept warm between rounds;
  3. ``dbt run`` of the models between the changed landing tables (raw_klines, Spark's
     indicator_values) and ``fact_prediction``, fact_kline excluded: fact_indicator,
     fact_kline_gap, the news-to-candle models, int_metric_inputs, fact_metric_value,
     int_prediction_components, fact_prediction.

Candles landing during a round are picked up by the next one. The backtest, analytics and
FP-Growth marts, the seeds and dimensions, and dbt's tests stay with the batch pipeline
(``cryptoquant pipeline run``); a round is ``dbt run``, not ``dbt build``. Each round is recorded
in ``staging.pipeline_runs`` (step ``live_refresh``), where the API's freshness view shows it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from cryptoquant import db
from cryptoquant.config import Settings
from cryptoquant.constants import INTERVAL_SECONDS
from cryptoquant.dbt import run_dbt
from cryptoquant.pipeline import record_run
from cryptoquant.writer_lock import warehouse_writer

logger = logging.getLogger(__name__)

KLINE_MODELS = "fact_kline"
# The models on a path from the two landing tables that change (raw_klines, Spark's
# indicator_values) to fact_prediction ("a+,+b" is an intersection), minus fact_kline and what
# feeds it (step 1). fact_indicator hangs off indicator_values, not off fact_kline.
PREDICTION_MODELS = ["source:staging.raw_klines+,+fact_prediction",
                     "source:staging.indicator_values+,+fact_prediction"]
PREDICTION_EXCLUDE = "+fact_kline"


@dataclass
class Round:
    """One refresh round; times are ``time.time()`` seconds."""

    number: int
    new_candles: int
    landed_through: dt.datetime  # newest landed_at (naive, database clock) the round covers
    started: float
    fact_kline_done: float = 0.0
    indicators_done: float = 0.0
    finished: float = 0.0
    indicators: dict = field(default_factory=dict)

    def seconds(self) -> dict[str, float]:
        return {"fact_kline": round(self.fact_kline_done - self.started, 2),
                "indicators": round(self.indicators_done - self.fact_kline_done, 2),
                "dbt_prediction": round(self.finished - self.indicators_done, 2),
                "total": round(self.finished - self.started, 2)}


def live_source(settings: Settings, stop: threading.Event, symbols: list[str] | None = None,
                interval: str | None = None, max_candles: int | None = None, **kwargs):
    """A LiveStream that resumes after the last landed candle of each series (as
    ``cryptoquant ingest live`` does)."""
    from loaders.sources import LiveStream
    from loaders.sources.backfill import resume_point

    interval = interval or settings.interval_list[0]
    symbols = [s.upper() for s in symbols or settings.symbol_list]
    step = INTERVAL_SECONDS[interval] * 1000
    after = {}
    for s in symbols:
        nxt = resume_point(settings, s, interval, -1)
        if nxt >= 0:
            after[s] = nxt - step
    return LiveStream(settings, symbols, interval, after, max_candles, stop, **kwargs)


class _Worker(threading.Thread):
    """A daemon thread that keeps the exception that ended it."""

    def __init__(self, name: str, target: Callable[[], object]):
        super().__init__(name=name, daemon=True)
        self._fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the refresh loop
            self.error = exc
            logger.exception("%s stopped", self.name)


class LiveRefresh:
    """The live loop; ``start()``, then ``run()`` (or ``refresh_once()``), then ``close()``."""

    def __init__(self, settings: Settings, consume: bool = True, ingest: bool = False,
                 poll_seconds: float = 0.5, stop: threading.Event | None = None,
                 spark=None, echo: Callable[[str], None] = logger.info,
                 on_round: Callable[[Round], None] | None = None, source_kwargs=None):
        self.settings = settings
        self.consume = consume
        self.ingest = ingest
        self.poll_seconds = poll_seconds
        self.stop = stop or threading.Event()
        self.spark = spark
        self._own_spark = spark is None
        self.echo = echo
        self.on_round = on_round
        self.source_kwargs = source_kwargs or {}
        self.rounds: list[Round] = []
        self.watermark: dt.datetime | None = None
        self.workers: list[_Worker] = []
        self.run_id = "live-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")

    # ---- life cycle -----------------------------------------------------------------------
    def start(self) -> LiveRefresh:
        if self.consume:
            from loaders.consumer import ConsumeLoop
            from loaders.sinks import KlineSink
            from loaders.steps import KLINES_GROUP

            loop = ConsumeLoop(self.settings, KlineSink(self.settings),
                               self.settings.kafka_topic_klines, KLINES_GROUP,
                               batch_seconds=0.2, stop=self.stop, progress=False)
            self.workers.append(_Worker("live-consumer", loop.run))
        if self.ingest:
            from loaders.sources import publish_candles

            source = live_source(self.settings, self.stop, **self.source_kwargs)
            self.workers.append(_Worker(
                "live-producer", lambda: publish_candles(self.settings, source, progress=False)))
        for w in self.workers:
            w.start()
        if self.spark is None:
            from pyspark.sql import SparkSession

            from spark.session import get_spark

            active = SparkSession.getActiveSession()
            if active is not None:  # e.g. a test session: use it, leave it running
                self.spark, self._own_spark = active, False
        if self.spark is None:
            t0 = time.monotonic()
            self.spark = get_spark(self.settings, "cryptoquant-live")
            self.echo(f"Spark session ready in {time.monotonic() - t0:.1f}s "
                      f"({self.settings.spark_master}); kept warm between rounds")
        return self

    def close(self) -> None:
        self.stop.set()
        for w in self.workers:
            w.join(timeout=30)
        if self._own_spark and self.spark is not None:
            self.spark.stop()
            self.spark = None

    def __enter__(self) -> LiveRefresh:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_workers(self) -> None:
        for w in self.workers:
            if w.error is not None:
                raise RuntimeError(f"{w.name} failed: {w.error}") from w.error

    # ---- one round ------------------------------------------------------------------------
    def _landed(self) -> tuple[int, dt.datetime | None]:
        """Candles landed after the watermark, and the newest landed_at.

        ``landed_at`` is set when a row is first inserted, inside the consumer's transaction;
        with one consumer, batches commit in landed_at order, so nothing commits behind the
        watermark. (With several consumers a late commit could; it would then be refreshed
        with the next landing, and fact_kline's look-back still reads it.)"""
        with db.staging(self.settings) as conn, conn.cursor() as cur:
            if self.watermark is None:
                cur.execute("select count(*), max(landed_at) from raw_klines")
            else:
                cur.execute("select count(*), max(landed_at) from raw_klines "
                            "where landed_at > %s", (self.watermark,))
            count, newest = cur.fetchone()
        return int(count), newest

    def refresh_once(self, force: bool = False) -> Round | None:
        """Run a round if candles landed since the last one (or ``force``); None otherwise."""
        count, newest = self._landed()
        if newest is None or (count == 0 and not force):
            return None
        first = self.watermark is None
        r = Round(len(self.rounds) + 1, count if not first else 0, newest, time.time())
        started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        record_run(self.settings, f"{self.run_id}-r{r.number}", "live_refresh", "running", "",
                   started_at)
        try:
            with warehouse_writer(self.settings, f"live refresh round {r.number}"):
                self._run_steps(r)
        except Exception as exc:
            record_run(self.settings, f"{self.run_id}-r{r.number}", "live_refresh", "failed",
                       f"{type(exc).__name__}: {exc}", started_at)
            raise
        self.watermark = newest
        self.rounds.append(r)
        detail = {"new_candles": r.new_candles, "landed_through": newest, **r.seconds()}
        record_run(self.settings, f"{self.run_id}-r{r.number}", "live_refresh", "success",
                   json.dumps(detail, default=str), started_at)
        what = "catch-up" if first else f"{r.new_candles} new candle(s)"
        s = r.seconds()
        self.echo(f"round {r.number}: {what}, landed through {newest:%Y-%m-%d %H:%M:%S}: "
                  f"fact_kline {s['fact_kline']:.1f}s, indicators {s['indicators']:.1f}s "
                  f"({', '.join(r.indicators.get('incremental', [])) or 'nothing new'}), "
                  f"dbt to fact_prediction {s['dbt_prediction']:.1f}s; "
                  f"total {s['total']:.1f}s")
        if self.on_round:
            self.on_round(r)
        return r

    def _run_steps(self, r: Round) -> None:
        from spark.indicators.job import run_indicators

        run_dbt(self.settings, ["run", "--select", KLINE_MODELS], capture=True)
        r.fact_kline_done = time.time()
        summary = run_indicators(self.settings, spark=self.spark)
        if summary.get("failed"):
            raise RuntimeError(f"indicator series failed: {summary['failed']}")
        r.indicators = {k: summary[k] for k in ("incremental", "full", "rows_written")
                        if k in summary}
        r.indicators_done = time.time()
        run_dbt(self.settings, ["run", "--select", *PREDICTION_MODELS,
                                "--exclude", PREDICTION_EXCLUDE], capture=True)
        r.finished = time.time()

    # ---- the loop -------------------------------------------------------------------------
    def run(self, max_rounds: int | None = None, catch_up: bool = True) -> list[Round]:
        """Poll for landed candles and refresh until ``stop`` is set (or ``max_rounds``)."""
        if not catch_up:  # start from what has landed by now
            _, newest = self._landed()
            self.watermark = newest or self.watermark
        done = 0
        while not self.stop.is_set():
            self._check_workers()
            r = self.refresh_once(force=catch_up and done == 0 and not self.rounds)
            if r is not None:
                done += 1
                if max_rounds is not None and done >= max_rounds:
                    break
                continue
            self.stop.wait(self.poll_seconds)
        return self.rounds


def rounds_as_dicts(rounds: list[Round]) -> list[dict]:
    return [{**asdict(r), "seconds": r.seconds()} for r in rounds]
