"""
### cryptoquant_ingest

Brings new market data and news into staging, through Kafka, in the order of
`cryptoquant.pipeline.STEPS` (the same steps `cryptoquant pipeline run` starts with):

1. **ingest_klines**: publish the configured klines to the klines topic and drain the
   consumer into `staging.raw_klines` (upsert by symbol, interval, open time).
2. **ingest_news**: publish the news articles and drain the consumer into `staging.raw_news`
   (keyed by the sha256 of the canonical URL, so a re-crawl adds nothing twice).
3. **news_sentiment**: score the landed articles and tag coins and topics.

Consumers are drained within the run (they stop when the topic is empty), so no long-lived
consumer outlives the task. Every step is idempotent: re-running it lands nothing twice.
Runs never overlap (`max_active_runs=1`). The warehouse is rebuilt by `cryptoquant_warehouse`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.sdk import DAG

from cryptoquant import orchestration

INGEST_STEPS = ["ingest_klines", "ingest_news", "news_sentiment"]

with DAG(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@hourly",
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=1),
    default_args=orchestration.default_args(),
    on_failure_callback=orchestration.on_dag_failure,
    tags=["cryptoquant", "ingest", "kafka"],
) as dag:
    orchestration.step_tasks(INGEST_STEPS)
