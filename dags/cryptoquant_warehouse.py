"""
### cryptoquant_warehouse

Hourly rebuild of the warehouse from what has landed in staging, in the order of
`cryptoquant.pipeline.STEPS` (the same steps `cryptoquant pipeline run` runs):

1. **dbt_base** (Cosmos task group, `tag:base`): seeds, staging views, dimensions, `fact_kline`.
2. **spark_indicators**: Spark computes RSI, EMA, MACD, Bollinger, ADX, ATR, OBV, VWAP into
   `staging.indicator_values` (master: `CQ_SPARK_MASTER`).
3. **dbt_marts** (`tag:marts`): indicators, news, metrics, market score, backtest, marts.
4. **spark_fpgrowth**: Spark ML FP-Growth over trade-entry conditions.
5. **dbt_patterns** (`tag:patterns`): the FP-Growth pattern marts.
6. **data_quality**: the warehouse caught up with staging, candles unique, indicators present
   (dbt's own tests close each dbt group).

Every step is idempotent (dbt rebuilds or upserts by key, the Spark jobs upsert by key), so
re-running a task or the whole run leaves the same warehouse. Runs never overlap
(`max_active_runs=1`). Ingestion is the separate `cryptoquant_ingest` DAG.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.sdk import DAG

from cryptoquant import orchestration

WAREHOUSE_STEPS = [
    "dbt_base", "spark_indicators", "dbt_marts", "spark_fpgrowth", "dbt_patterns",
]

with DAG(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    schedule="@hourly",
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=3),
    default_args=orchestration.default_args(),
    on_failure_callback=orchestration.on_dag_failure,
    tags=["cryptoquant", "warehouse", "dbt", "spark"],
) as dag:
    steps = orchestration.step_tasks(WAREHOUSE_STEPS)
    orchestration.data_quality_task(after=steps[-1])
