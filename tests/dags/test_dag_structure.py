"""Every DAG imports cleanly and follows the house rules; the DAGs follow pipeline.STEPS."""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging

import pytest

from cryptoquant import orchestration
from cryptoquant.config import PROJECT_ROOT
from cryptoquant.pipeline import STEPS, step_names

WAREHOUSE_STEPS = ["dbt_base", "spark_indicators", "dbt_marts", "spark_fpgrowth", "dbt_patterns"]
INGEST_STEPS = ["ingest_klines", "ingest_news", "news_sentiment"]


def test_every_dag_file_imports_without_errors(dagbag, dag_files):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == dag_files
    assert {"cryptoquant_ingest", "cryptoquant_warehouse"} <= set(dag_files)


def test_dags_follow_the_house_rules(dagbag):
    for dag_id, dag in dagbag.dags.items():
        tree = ast.parse((PROJECT_ROOT / "dags" / f"{dag_id}.py").read_text())
        assert dag.tags and "cryptoquant" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.doc_md == ast.get_docstring(tree, clean=False), dag_id
        assert dag.doc_md.strip().splitlines()[0] == f"### {dag_id}", dag_id
        assert dag.on_failure_callback, dag_id
        for task in dag.tasks:
            assert task.retries >= 2, task.task_id
            assert task.retry_exponential_backoff, task.task_id
            assert task.on_failure_callback, task.task_id


def _step_of(task_id: str) -> str:
    return task_id.split(".")[0]


def _assert_steps_chained(dag, names: list[str], tail: list[str]) -> None:
    order = names + tail
    tasks_by_step: dict[str, list] = {}
    for task in dag.tasks:
        tasks_by_step.setdefault(_step_of(task.task_id), []).append(task)
    assert list(tasks_by_step) != [] and set(tasks_by_step) == set(order)
    edges = {(_step_of(t.task_id), _step_of(d)) for t in dag.tasks for d in t.downstream_task_ids}
    cross = {(a, b) for a, b in edges if a != b}
    assert cross == set(zip(order, order[1:], strict=False)), cross


def test_warehouse_dag_runs_the_pipeline_steps_in_order(dagbag):
    dag = dagbag.dags["cryptoquant_warehouse"]
    assert [s for s in step_names() if s in WAREHOUSE_STEPS] == WAREHOUSE_STEPS
    _assert_steps_chained(dag, WAREHOUSE_STEPS, ["data_quality"])


def test_ingest_dag_runs_the_pipeline_steps_in_order(dagbag):
    dag = dagbag.dags["cryptoquant_ingest"]
    _assert_steps_chained(dag, INGEST_STEPS, [])
    assert dag.schedule is not None or dag.timetable is not None


def test_dbt_steps_are_cosmos_groups_of_the_manifest_nodes(dagbag, dbt_target):
    from cosmos.constants import InvocationMode

    dag = dagbag.dags["cryptoquant_warehouse"]
    manifest = json.loads((dbt_target / "manifest.json").read_text())
    dbt_exe = str(PROJECT_ROOT / ".venv-dbt" / "bin" / "dbt")
    checked = 0
    earlier: set[str] = set()
    for step_name, tag in (("dbt_base", "base"), ("dbt_marts", "marts"),
                           ("dbt_patterns", "patterns")):
        # built in the first stage naming it: a node tagged base and marts belongs to dbt_base
        expected = {n["name"] for n in manifest["nodes"].values()
                    if n["resource_type"] in {"model", "seed"} and tag in n["tags"]
                    and not earlier & set(n["tags"])}
        earlier.add(tag)
        tasks = [t for t in dag.tasks if _step_of(t.task_id) == step_name]
        if not expected:  # nothing tagged yet: a no-op placeholder keeps the chain
            assert [t.task_type for t in tasks] == ["EmptyOperator"]
            continue
        rendered = {t.task_id.split(".")[1].removesuffix("_run").removesuffix("_seed")
                    for t in tasks}
        # Cosmos names the group's closing test task after the project directory
        assert rendered == expected | {f"{PROJECT_ROOT.name}_test"}, step_name
        for t in tasks:
            if t.task_type.startswith("Dbt"):
                assert str(t.dbt_executable_path) == dbt_exe
                assert t.invocation_mode == InvocationMode.SUBPROCESS
                assert str(t.profile_config.profiles_yml_filepath) == str(
                    PROJECT_ROOT / "profiles.yml")
                assert t.env["CQ_MYSQL_WAREHOUSE_DATABASE"]
                # each dbt task holds the warehouse writer lock (cryptoquant.writer_lock)
                assert t._pre_execute_hook.__module__ == "cryptoquant.writer_lock"
                assert t._post_execute_hook.__module__ == "cryptoquant.writer_lock"
                checked += 1
    assert checked > 0


def test_spark_and_python_steps_call_the_pipeline_step(dagbag):
    dag = dagbag.dags["cryptoquant_warehouse"]
    for name in ("spark_indicators", "spark_fpgrowth"):
        task = dag.get_task(name)
        assert orchestration.step(name).target in task.doc_md


def test_steps_must_keep_the_pipeline_order():
    assert [s.name for s in orchestration.in_steps_order(WAREHOUSE_STEPS)] == WAREHOUSE_STEPS
    with pytest.raises(ValueError, match="order"):
        orchestration.in_steps_order(["dbt_marts", "dbt_base"])
    with pytest.raises(KeyError, match="unknown step"):
        orchestration.step("no_such_step")


def test_dbt_tag_comes_from_the_step_target():
    tags = {s.name: orchestration.dbt_tag(s) for s in STEPS}
    assert tags["dbt_base"] == "base" and tags["dbt_patterns"] == "patterns"
    assert tags["spark_indicators"] is None and tags["ingest_klines"] is None


class _TI:
    dag_id, task_id, try_number = "cryptoquant_warehouse", "spark_indicators", 3


def test_failure_callback_logs_the_step_and_the_reason(caplog):
    context = {"ti": _TI(), "run_id": "manual__x", "exception": ValueError("no candles")}
    with caplog.at_level(logging.ERROR, logger="cryptoquant.orchestration"):
        orchestration.on_failure(context)
    (record,) = caplog.records
    assert "task=spark_indicators" in record.message
    assert "try=3" in record.message
    assert "ValueError: no candles" in record.message


def test_default_args_retry_with_backoff():
    args = orchestration.default_args()
    assert args["retries"] >= 2 and args["retry_exponential_backoff"]
    assert args["retry_delay"] < args["max_retry_delay"] <= dt.timedelta(hours=1)
