"""The pipeline: one ordered definition of the steps, used by `cryptoquant pipeline run`
and by the Airflow DAGs (dags/), so both run the same steps in the same order.

A step is a function ``fn(settings) -> dict | None`` (a short summary for the log), named by
"module:function" so that importing this module stays cheap (no PySpark, no Kafka client).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import click

from cryptoquant.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    target: str
    description: str
    # Steps that build warehouse tables (dbt, Spark) run one at a time per warehouse, against
    # each other and against live refresh rounds (cryptoquant.writer_lock); landing steps only
    # upsert staging and may run beside them.
    writes_warehouse: bool = True

    def load(self) -> Callable:
        module_name, attr = self.target.split(":")
        return getattr(importlib.import_module(module_name), attr)


STEPS: tuple[Step, ...] = (
    Step("ingest_klines", "loaders.steps:ingest_sample_klines",
         "Replay the configured kline files through Kafka and drain them into staging.",
         writes_warehouse=False),
    Step("ingest_news", "loaders.steps:ingest_sample_news",
         "Publish the bundled news dataset to Kafka and drain it into staging.",
         writes_warehouse=False),
    Step("news_sentiment", "loaders.news_sentiment:run_step",
         "Score landed articles (VADER + crypto lexicon) and tag coins and topics.",
         writes_warehouse=False),
    Step("dbt_base", "cryptoquant.dbt:build_base",
         "dbt seeds, staging, dimensions and fact_kline (selector: tag:base)."),
    Step("spark_indicators", "spark.indicators.job:run_step",
         "Spark: RSI, EMA, MACD, Bollinger, ADX, ATR, OBV, VWAP per series."),
    Step("dbt_marts", "cryptoquant.dbt:build_marts",
         "dbt indicators, news, metrics, market score, backtest and analytics marts."),
    Step("spark_fpgrowth", "spark.fpgrowth.job:run_step",
         "Spark ML FP-Growth over trade-entry conditions."),
    Step("dbt_patterns", "cryptoquant.dbt:build_patterns",
         "dbt FP-Growth pattern marts and data-quality tests."),
)


def step_names() -> list[str]:
    return [s.name for s in STEPS]


def record_run(settings: Settings, run_id: str, step: str, status: str, detail: str,
               started_at: dt.datetime) -> None:
    """Write the step's status to staging.pipeline_runs (shown by the API's freshness view)."""
    from cryptoquant import db

    finished = None if status == "running" else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into pipeline_runs (run_id, step, status, detail, started_at, finished_at) "
            "values (%s, %s, %s, %s, %s, %s) on duplicate key update status = values(status), "
            "detail = values(detail), finished_at = values(finished_at)",
            (run_id, step, status, detail[:60000], started_at, finished),
        )
        conn.commit()


def _writer(settings: Settings, step: Step, run_id: str):
    from contextlib import nullcontext

    from cryptoquant.writer_lock import warehouse_writer

    if not step.writes_warehouse:
        return nullcontext()
    return warehouse_writer(settings, f"step {step.name} of run {run_id}")


def run_step(settings: Settings, step: Step, run_id: str) -> dict:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    record_run(settings, run_id, step.name, "running", "", started)
    t0 = time.monotonic()
    try:
        with _writer(settings, step, run_id):
            summary = step.load()(settings) or {}
    except Exception as exc:
        record_run(settings, run_id, step.name, "failed", f"{type(exc).__name__}: {exc}", started)
        raise
    summary = {"seconds": round(time.monotonic() - t0, 1), **summary}
    record_run(settings, run_id, step.name, "success", json.dumps(summary, default=str), started)
    return summary


def run_pipeline(settings: Settings, only: list[str] | None = None,
                 start_at: str | None = None, echo: Callable[[str], None] = print) -> str:
    """Run the steps in order; returns the run id. Stops at the first failing step."""
    names = step_names()
    for name in (only or []) + ([start_at] if start_at else []):
        if name not in names:
            raise click.BadParameter(f"unknown step {name!r}; steps are: {', '.join(names)}")
    steps = list(STEPS)
    if start_at:
        steps = steps[names.index(start_at):]
    if only:
        steps = [s for s in steps if s.name in only]
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    for i, step in enumerate(steps, 1):
        echo(f"[{i}/{len(steps)}] {step.name}: {step.description}")
        summary = run_step(settings, step, run_id)
        echo(f"      done: {json.dumps(summary, default=str)}")
    return run_id


@click.group()
def pipeline() -> None:
    """Run the whole flow (ingest, dbt, Spark) without Airflow."""


@pipeline.command("run")
@click.option("--only", multiple=True, help="Run only this step (repeatable).")
@click.option("--from", "start_at", help="Start at this step and run the rest.")
@click.pass_obj
def pipeline_run(settings: Settings, only: tuple[str, ...], start_at: str | None) -> None:
    """Run every pipeline step in order on the configured data (default: the bundled sample)."""
    run_id = run_pipeline(settings, list(only), start_at, echo=click.echo)
    click.echo(f"pipeline run {run_id} finished")


@pipeline.command("steps")
def pipeline_steps() -> None:
    """List the steps in the order they run."""
    for i, step in enumerate(STEPS, 1):
        click.echo(f"{i}. {step.name:18} {step.description}")


@pipeline.command("live")
@click.option("--consume/--no-consume", default=True, show_default=True,
              help="Run the kline consumer in this process (off: `cryptoquant consume klines` "
                   "runs elsewhere).")
@click.option("--ingest", is_flag=True,
              help="Also run the WebSocket producer (`cryptoquant ingest live`) in this process.")
@click.option("--poll-seconds", default=0.5, show_default=True, type=click.FloatRange(0.05, 60),
              help="How often to look for newly landed candles.")
@click.option("--max-rounds", type=click.IntRange(min=1),
              help="Stop after this many refresh rounds (default: run until Ctrl-C).")
@click.option("--catch-up/--no-catch-up", default=True, show_default=True,
              help="Run one round at start for whatever landed before.")
@click.pass_obj
def pipeline_live(settings: Settings, consume: bool, ingest: bool, poll_seconds: float,
                  max_rounds: int | None, catch_up: bool) -> None:
    """Keep the prediction fresh: whenever new candles land in staging, run fact_kline,
    the Spark indicators (incremental, warm session) and the dbt models up to fact_prediction."""
    import signal

    from cryptoquant.live import LiveRefresh

    live = LiveRefresh(settings, consume=consume, ingest=ingest, poll_seconds=poll_seconds,
                       echo=click.echo)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: live.stop.set())
    parts = ["consumer" if consume else None, "WebSocket producer" if ingest else None]
    click.echo(f"live refresh: {' + '.join(p for p in parts if p) or 'refresh only'}; "
               f"polling staging every {poll_seconds}s (Ctrl-C stops)")
    with live:
        rounds = live.run(max_rounds=max_rounds, catch_up=catch_up)
    click.echo(f"live refresh stopped after {len(rounds)} round(s)")
