"""Building blocks of the Airflow DAGs in ``dags/``: the pipeline's STEPS as Airflow tasks.

The DAGs do not redefine the pipeline. They pick step names from
``cryptoquant.pipeline.STEPS`` and :func:`step_tasks` turns each into a task in STEPS order:

* a dbt step (``cryptoquant.dbt:build_<tag>``) becomes a Cosmos ``DbtTaskGroup`` selecting
  ``tag:<tag>`` from the manifest (``cryptoquant dbt parse`` writes ``target/manifest.json``);
  dbt runs from its own virtual environment with the repo's ``profiles.yml``, which reads the
  same ``CQ_*`` settings as everything else;
* every other step (ingestion, news sentiment, the Spark jobs) becomes a Python task calling
  ``cryptoquant.pipeline.run_step``, the very function ``cryptoquant pipeline run`` uses, so
  the step also lands in ``staging.pipeline_runs``. Spark jobs start their driver inside the
  Airflow worker and use ``CQ_SPARK_MASTER`` (``local[2]``, ``spark://host:7077``, ``yarn``),
  see docs/orchestration.md for why this, not ``SparkSubmitOperator``.

Importing this module is cheap: no PySpark, no Kafka client, no database connection.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptoquant import writer_lock
from cryptoquant.config import PROJECT_ROOT, Settings, get_settings
from cryptoquant.pipeline import STEPS, Step

logger = logging.getLogger(__name__)

DBT_STEP_MODULE = "cryptoquant.dbt"
DBT_STEP_PREFIX = "build_"



def dbt_project_dir() -> Path:
    """The dbt project (dbt_project.yml, profiles.yml): the repo, or $DBT_PROJECT_DIR (for
    example a checkout baked into an Airflow image)."""
    return Path(os.environ.get("DBT_PROJECT_DIR") or PROJECT_ROOT)


def manifest_path() -> Path:
    """Written by `cryptoquant dbt parse` (make dbt-parse); Cosmos renders the groups from it.
    Honours dbt's own DBT_TARGET_PATH (absolute, or relative to the project)."""
    return dbt_project_dir() / os.environ.get("DBT_TARGET_PATH", "target") / "manifest.json"


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "cryptoquant",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=10),
    "execution_timeout": dt.timedelta(hours=1),
}
START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def step(name: str) -> Step:
    """The pipeline step called ``name`` (KeyError names the known ones)."""
    for s in STEPS:
        if s.name == name:
            return s
    raise KeyError(f"unknown step {name!r}; steps are: {', '.join(s.name for s in STEPS)}")


def dbt_tag(s: Step) -> str | None:
    """``base`` for ``cryptoquant.dbt:build_base``; None for a step that is not a dbt build."""
    module, attr = s.target.split(":")
    if module == DBT_STEP_MODULE and attr.startswith(DBT_STEP_PREFIX):
        return attr[len(DBT_STEP_PREFIX):]
    return None


def in_steps_order(names: list[str]) -> list[Step]:
    """The named steps, checked to be in the same order as STEPS (one definition, one order)."""
    steps = [step(n) for n in names]
    positions = [STEPS.index(s) for s in steps]
    if positions != sorted(positions):
        raise ValueError(f"steps {names} are not in the order of cryptoquant.pipeline.STEPS")
    return steps


# ---- failure reporting ------------------------------------------------------------------------
def describe_failure(context: dict) -> str:
    """One line saying which DAG, run and step failed, on which try, and why."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    try_number = getattr(ti, "try_number", "?")
    run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", "?")
    exc = context.get("exception") or context.get("reason")
    why = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
    return (f"cryptoquant step failed: dag={dag_id} task={task_id} run={run_id} "
            f"try={try_number}: {why}")


def on_failure(context: dict) -> None:
    """Task failure callback: log which step failed and why (the task log keeps the trace)."""
    logger.error(describe_failure(context))


def on_dag_failure(context: dict) -> None:
    """DAG failure callback: log the run that failed and the reason Airflow gives."""
    dag_run = context.get("dag_run")
    logger.error("cryptoquant DAG run failed: dag=%s run=%s reason=%s",
                 getattr(dag_run, "dag_id", "?"), getattr(dag_run, "run_id", "?"),
                 context.get("reason"))


def default_args() -> dict[str, Any]:
    return {**DEFAULT_ARGS, "on_failure_callback": on_failure}


# ---- plain steps ---------------------------------------------------------------------------
def run_pipeline_step(name: str, run_id: str | None = None) -> dict:
    """Run one step with the worker's settings, recorded in staging.pipeline_runs under the
    Airflow run id (the same record `cryptoquant pipeline run` writes)."""
    from cryptoquant.pipeline import run_step

    settings = get_settings()
    summary = run_step(settings, step(name), run_id or f"airflow-{name}")
    logger.info("step %s done: %s", name, summary)
    return summary


def python_step_task(s: Step):
    """A TaskFlow task running ``s``; its return value (a small summary) goes to XCom."""
    from airflow.sdk import task

    @task(task_id=s.name, doc_md=f"`{s.target}`: {s.description}")
    def _run(**context) -> dict:
        return run_pipeline_step(s.name, _airflow_run_id(context))

    return _run()


def _airflow_run_id(context: dict) -> str:
    run_id = str(context.get("run_id") or "manual")
    return ("airflow-" + run_id)[:64]


# ---- dbt steps through Cosmos -------------------------------------------------------------------
def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment of the dbt subprocess: the CQ_* settings that profiles.yml reads."""
    return {**settings.as_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


@functools.lru_cache(maxsize=4)
def cosmos_configs(settings: Settings) -> dict[str, Any]:
    """Project, profile and execution configuration, built once and shared by every dbt task
    group of a DAG file."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import ExecutionMode, InvocationMode, TestIndirectSelection

    dbt_exe = str(settings.path(settings.dbt_venv) / "bin" / "dbt")
    project = dbt_project_dir()
    return {
        "project_config": ProjectConfig(
            dbt_project_path=project,
            manifest_path=manifest_path(),
            # dbt_project.yml keeps its folders under dbt_project/ (model-paths etc.).
            models_relative_path="dbt_project/models",
            seeds_relative_path="dbt_project/seeds",
            snapshots_relative_path="dbt_project/snapshots",
            install_dbt_deps=False,
            env_vars=dbt_env(settings),
        ),
        "profile_config": ProfileConfig(
            profile_name="cryptoquant",
            target_name=settings.dbt_target,
            profiles_yml_filepath=project / "profiles.yml",
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt_exe,
            # a test runs in the first group where each of its parents is built in the group
            # or upstream of it, never before a parent exists
            test_indirect_selection=TestIndirectSelection.BUILDABLE,
        ),
        "dbt_executable_path": dbt_exe,
    }


def dbt_task_group(s: Step, tag: str, settings: Settings, exclude: list[str]):
    """A Cosmos DbtTaskGroup for ``dbt build --select tag:<tag>``: one task per seed and model,
    then one task testing the group, rendered from the manifest (no dbt call at parse time)."""
    from cosmos import DbtTaskGroup, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    cfg = cosmos_configs(settings)
    return DbtTaskGroup(
        group_id=s.name,
        project_config=cfg["project_config"],
        profile_config=cfg["profile_config"],
        execution_config=cfg["execution_config"],
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=[f"tag:{tag}"],
            exclude=[f"tag:{t}" for t in exclude],
            test_behavior=TestBehavior.AFTER_ALL,
            dbt_executable_path=cfg["dbt_executable_path"],
            invocation_mode=InvocationMode.SUBPROCESS,
        ),
        # each dbt task holds the warehouse writer lock while it runs (cryptoquant.writer_lock)
        operator_args={"install_deps": False, "append_env": True,
                       **writer_lock.airflow_hooks(get_settings)},
        default_args=default_args(),
        tooltip=s.description,
    )


class ManifestMissing(FileNotFoundError):
    """target/manifest.json is missing: the DAGs render the dbt steps from it."""


def manifest_nodes(tag: str, exclude: list[str], path: Path | None = None) -> list[str]:
    """Models, seeds and snapshots carrying ``tag`` and none of ``exclude``."""
    path = path or manifest_path()
    if not path.exists():
        raise ManifestMissing(f"{path} not found: run `cryptoquant dbt parse` (make dbt-parse)")
    nodes = json.loads(path.read_text())["nodes"].values()
    return [n["name"] for n in nodes if n["resource_type"] in {"model", "seed", "snapshot"}
            and tag in n.get("tags", []) and not set(exclude) & set(n.get("tags", []))]


def earlier_dbt_tags(s: Step) -> list[str]:
    """Tags of the dbt steps before ``s`` in STEPS: a node tagged with two stages (the core
    marts carry ``base`` and ``marts``) is built once, in the first, as it is already current."""
    return [t for x in STEPS[:STEPS.index(s)] if (t := dbt_tag(x))]


def dbt_step(s: Step, tag: str, settings: Settings):
    """The step's DbtTaskGroup; an EmptyOperator when no manifest node carries the tag (then
    `dbt build --select tag:<tag>` has nothing to do either), so the chain stays intact."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    exclude = earlier_dbt_tags(s)
    if manifest_nodes(tag, exclude):
        return dbt_task_group(s, tag, settings, exclude)
    logger.warning("no dbt node tagged %r in %s: step %s is a no-op", tag, manifest_path(), s.name)
    return EmptyOperator(task_id=s.name, doc_md=f"No dbt node tagged `{tag}` (yet).")


# ---- whole DAG bodies ------------------------------------------------------------------------------
def step_tasks(names: list[str], settings: Settings | None = None) -> list:
    """Create one task (or task group) per named step, in STEPS order, chained one after the
    other; call inside a ``with DAG(...)`` block. Returns them (first to last)."""
    from airflow.sdk import chain

    settings = settings or get_settings()
    nodes = []
    for s in in_steps_order(names):
        tag = dbt_tag(s)
        nodes.append(dbt_step(s, tag, settings) if tag else python_step_task(s))
    chain(*nodes)
    return nodes


def data_quality_task(after=None):
    """The closing data-quality check of the warehouse DAG (see :mod:`cryptoquant.quality`)."""
    from airflow.sdk import task

    @task(task_id="data_quality", doc_md="Warehouse caught up with staging; keys sound.")
    def _check() -> dict:
        from cryptoquant.quality import check_warehouse

        return check_warehouse(get_settings())

    node = _check()
    if after is not None:
        after >> node
    return node
