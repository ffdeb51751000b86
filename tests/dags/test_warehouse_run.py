"""A full `airflow dags test cryptoquant_warehouse` against the real stack on a small slice
leaves the same warehouse as `cryptoquant pipeline run` (run_pipeline) on that slice.

Two isolated database pairs get the same klines; one is built by run_pipeline, the other by
Airflow (a separate process with its own AIRFLOW_HOME and the CQ_* settings of its pair).
Every warehouse table and every staging table the steps write is then compared by row count
and an order-independent checksum of its rows (run timestamps left out).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import subprocess

import pytest

from cryptoquant import db, orchestration
from cryptoquant.config import PROJECT_ROOT
from cryptoquant.pipeline import run_pipeline
from tests.dags.conftest import airflow_subprocess_env
from tests.support.sample import land_klines

pytestmark = [pytest.mark.integration, pytest.mark.spark]

WAREHOUSE_STEPS = ["dbt_base", "spark_indicators", "dbt_marts", "spark_fpgrowth", "dbt_patterns"]
SLICE = (dt.datetime(2022, 1, 1), dt.datetime(2022, 2, 15))
# Columns holding the wall-clock time of a run, not data: they differ between any two runs.
RUN_TIME_COLUMNS = {"computed_at", "ingested_at", "landed_at", "loaded_at", "built_at",
                    "updated_at", "created_at", "inserted_at", "refreshed_at", "mined_at",
                    "received_at", "run_id", "dbt_updated_at", "generated_at", "scored_at",
                    "tagged_at"}
STAGING_INPUTS = {"raw_klines", "raw_news", "dead_letter", "pipeline_runs"}


def step_ready(name: str) -> bool:
    """A step whose code has landed (dbt steps always are: an empty selection is a no-op)."""
    step = orchestration.step(name)
    if orchestration.dbt_tag(step):
        return True
    module, attr = step.target.split(":")
    return importlib.util.find_spec(module) is not None and hasattr(
        importlib.import_module(module), attr)


def table_fingerprints(settings, database: str, skip: set[str] = frozenset()) -> dict:
    """{table: (rows, checksum)} over the base tables of ``database``."""
    out = {}
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = %s "
                    "and table_type = 'BASE TABLE' order by table_name", (database,))
        tables = [r[0] for r in cur.fetchall() if r[0] not in skip]
        for table in tables:
            cur.execute("select column_name, data_type from information_schema.columns "
                        "where table_schema = %s and table_name = %s order by ordinal_position",
                        (database, table))
            exprs = []
            for column, kind in cur.fetchall():
                if column.lower() in RUN_TIME_COLUMNS:
                    continue
                value = f"round(`{column}`, 6)" if kind in {"double", "float"} else f"`{column}`"
                exprs.append(f"coalesce(cast({value} as char), '<null>')")
            row_hash = f"crc32(concat_ws('|', {', '.join(exprs)}))"
            cur.execute(f"select count(*), coalesce(sum({row_hash}), 0) "
                        f"from `{database}`.`{table}`")
            rows, checksum = cur.fetchone()
            out[table] = (int(rows), int(checksum))
    return out


def warehouse_state(settings) -> dict:
    return {
        "warehouse": table_fingerprints(settings, settings.mysql_warehouse_database),
        "staging": table_fingerprints(settings, settings.mysql_staging_database, STAGING_INPUTS),
    }


@pytest.fixture(scope="module")
def slice_pair(make_settings):
    by_pipeline, by_airflow = make_settings("afp"), make_settings("afa")
    # What cryptoquant_ingest leaves behind: klines landed (straight into staging, the Kafka
    # path has its own tests) and the news_sentiment step's tables.
    landed = {land_klines(s, start=SLICE[0], end=SLICE[1]) for s in (by_pipeline, by_airflow)}
    assert len(landed) == 1 and landed.pop() > 3000
    for s in (by_pipeline, by_airflow):
        run_pipeline(s, only=["news_sentiment"], echo=lambda _: None)
    return by_pipeline, by_airflow


def test_dags_test_leaves_the_same_warehouse_as_run_pipeline(slice_pair, dbt_target,
                                                             tmp_path_factory):
    by_pipeline, by_airflow = slice_pair
    # run_pipeline goes first, step by step. Steps still being built by other work (code not
    # landed, or failing in `pipeline run` itself) end the comparison there: the DAG marks
    # them and everything after them as done instead of running them.
    ran: list[str] = []
    for name in WAREHOUSE_STEPS:
        if not step_ready(name):
            break
        try:
            run_pipeline(by_pipeline, only=[name], echo=lambda _: None)
        except Exception as exc:  # noqa: BLE001 - reported, and the comparison stops here
            print(f"pipeline step {name} failed, compared up to it: {type(exc).__name__}: {exc}")
            break
        ran.append(name)
    assert ran[:3] == ["dbt_base", "spark_indicators", "dbt_marts"], ran

    home = tmp_path_factory.mktemp("airflow_run")
    env = airflow_subprocess_env(by_airflow, home, dbt_target)
    airflow = str(PROJECT_ROOT / ".venv" / "bin" / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    cmd = [airflow, "dags", "test", "cryptoquant_warehouse"]
    skip = [s for s in WAREHOUSE_STEPS if s not in ran]
    if skip:  # the data-quality check needs every step
        skip.append("data_quality")
        cmd += ["--mark-success-pattern", "^(" + "|".join(map(re.escape, skip)) + r")(\.|$)"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    log = proc.stdout + proc.stderr
    (home / "dags-test.log").write_text(log)
    assert proc.returncode == 0, log[-6000:]

    expected, actual = warehouse_state(by_pipeline), warehouse_state(by_airflow)
    assert expected["warehouse"]["fact_kline"][0] >= 3000
    assert actual == expected


def _rows(settings, sql: str) -> list[dict]:
    with db.warehouse(settings, dict_rows=True) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def test_rule_matches_equal_plain_set_containment(slice_pair):
    """fp_growth_prediction_matches (bit masks in SQL) against the definition: a significant
    rule matches a prediction when every antecedent item is one of the prediction's items; the
    best is the highest lift (then lowest q_value, then rule_id)."""
    s = slice_pair[0]
    tables = {r["table_name"] for r in _rows(
        s, "select table_name from information_schema.tables where table_schema = database()")}
    if "fp_growth_prediction_matches" not in tables:  # run alone, without the test above
        run_pipeline(s, only=WAREHOUSE_STEPS, echo=lambda _: None)
    items: dict[str, set[str]] = {}
    for r in _rows(s, "select prediction_id, item from int_prediction_states_discretised"):
        items.setdefault(r["prediction_id"], set()).add(r["item"])
    rules = sorted(_rows(s, "select rule_id, antecedent, lift, q_value "
                            "from fp_growth_win_rules where is_significant"),
                   key=lambda r: (-r["lift"], r["q_value"], r["rule_id"]))
    expected = {}
    for prediction_id, have in items.items():
        matched = [r["rule_id"] for r in rules if set(json.loads(r["antecedent"])) <= have]
        expected[prediction_id] = (len(matched), matched[0] if matched else None)
    actual = {r["prediction_id"]: (r["matched_rule_count"], r["best_rule_id"]) for r in _rows(
        s, "select prediction_id, matched_rule_count, best_rule_id "
           "from fp_growth_prediction_matches")}
    assert rules and sum(n for n, _ in expected.values()) > 0, "nothing to compare"
    assert {k: v for k, v in actual.items() if k in expected} == expected
    assert all(v == (0, None) for k, v in actual.items() if k not in expected)
