"""Fixtures for the DAG tests: an isolated AIRFLOW_HOME, a fresh dbt manifest, the DagBag."""

from __future__ import annotations

import os
import subprocess

import pytest

from cryptoquant.config import PROJECT_ROOT, load_settings
from cryptoquant.dbt import dbt_env, dbt_executable

DAGS_DIR = PROJECT_ROOT / "dags"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    """A throw-away AIRFLOW_HOME, set before Airflow is first imported in this process."""
    home = tmp_path_factory.mktemp("airflow_home")
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW_HOME", str(home))
    patch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    patch.setenv("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    patch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    yield home
    patch.undo()


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory):
    """`dbt parse` into a private target dir (DBT_TARGET_PATH), so the test reads a manifest of
    the current dbt project that no concurrent `dbt` run is rewriting."""
    target = tmp_path_factory.mktemp("dbt_target")
    env = {**dbt_env(load_settings()), "DBT_TARGET_PATH": str(target)}
    proc = subprocess.run([dbt_executable(load_settings()), "parse", "--quiet"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "manifest.json").exists()
    patch = pytest.MonkeyPatch()
    patch.setenv("DBT_TARGET_PATH", str(target))
    yield target
    patch.undo()


@pytest.fixture(scope="session")
def dagbag(airflow_home, dbt_target):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="session")
def dag_files() -> list[str]:
    return sorted(p.stem for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


def airflow_subprocess_env(settings, home, target) -> dict[str, str]:
    """Environment for an `airflow` subprocess running the DAGs against ``settings``."""
    from cryptoquant.airflow_local import airflow_env

    env = airflow_env(settings, home, base={k: v for k, v in os.environ.items()
                                           if not k.startswith(("CQ_", "AIRFLOW"))})
    env["DBT_TARGET_PATH"] = str(target)
    return env
