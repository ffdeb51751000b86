"""A local Airflow for the DAGs in ``dags/``: api-server, scheduler and dag-processor with the
LocalExecutor, started and stopped by PID (``make airflow`` / ``make airflow-down``).

Everything lives under ``<stack_dir>/airflow`` (AIRFLOW_HOME): the metadata database, logs,
PID files, the generated secrets and the admin password. The CQ_* settings are exported to
every component, so tasks, dbt (profiles.yml) and the Spark jobs see the same configuration
as ``cryptoquant pipeline run``; the settings are also stored as Airflow connections
(``cryptoquant_mysql``, ``cryptoquant_kafka``, ``spark_default``) and variables for operators
and the UI.

Metadata database: SQLite in AIRFLOW_HOME. Airflow 3 supports SQLite with the LocalExecutor
for local use (it is the shape of ``airflow standalone``: task processes talk to the
api-server, not to the database), while MariaDB, the stack's server, is explicitly not a
supported Airflow backend. Point ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` at PostgreSQL or
MySQL 8 for anything bigger; it is honoured when set.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import click

from cryptoquant.config import PROJECT_ROOT, Settings, load_settings
from cryptoquant.stack._proc import (
    StackError,
    pid_alive,
    port_open,
    read_pid,
    spawn,
    stop_pid,
    wait_until,
)

logger = logging.getLogger(__name__)

COMPONENTS = ("api-server", "scheduler", "dag-processor")
DEFAULT_PORT = 8080
ADMIN_USER = "admin"
MARKER = "airflow"


def airflow_home(settings: Settings) -> Path:
    return settings.stack_path / "airflow"


def airflow_bin() -> Path:
    return Path(sys.executable).parent / "airflow"


def parallelism() -> int:
    """Task slots: one per core, at least 2 (the default of 32 swamps a 2-core machine)."""
    return max(2, os.cpu_count() or 2)


def _secret(home: Path, name: str, make) -> str:
    """A secret generated once and kept in AIRFLOW_HOME (mode 600), stable across restarts."""
    path = home / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def airflow_env(settings: Settings, home: Path, port: int = DEFAULT_PORT,
                base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Airflow process: AIRFLOW__* configuration plus CQ_* settings."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if base is None else base)
    env.update(settings.as_env())
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism()),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__FERNET_KEY": _secret(home, "fernet.key", _fernet_key),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home, "jwt.secret",
                                                 lambda: secrets.token_urlsafe(32)),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "SPARK_LOCAL_IP": env.get("SPARK_LOCAL_IP", "127.0.0.1"),
    })
    return env


def connections(settings: Settings) -> dict[str, dict]:
    """Airflow connections describing the stack, in `airflow connections import` format."""
    kafka_host, _, kafka_port = settings.kafka_bootstrap_servers.split(",")[0].rpartition(":")
    return {
        "cryptoquant_mysql": {
            "conn_type": "mysql", "host": settings.mysql_host, "port": settings.mysql_port,
            "login": settings.mysql_user, "password": settings.mysql_password,
            "schema": settings.mysql_warehouse_database,
            "description": "cryptoquant warehouse (CQ_MYSQL_*); staging is "
                           f"{settings.mysql_staging_database}",
        },
        "cryptoquant_kafka": {
            "conn_type": "generic", "host": kafka_host, "port": int(kafka_port or 9092),
            "extra": json.dumps({"bootstrap.servers": settings.kafka_bootstrap_servers}),
            "description": "cryptoquant Kafka (CQ_KAFKA_BOOTSTRAP_SERVERS)",
        },
        "spark_default": {
            "conn_type": "spark", "host": settings.spark_master,
            "extra": json.dumps({"deploy-mode": "client"}),
            "description": "Spark master for the Spark steps (CQ_SPARK_MASTER)",
        },
    }


def variables(settings: Settings) -> dict[str, str]:
    """Non-secret settings as Airflow variables (for the UI and custom operators)."""
    return {
        "cryptoquant_symbols": settings.symbols,
        "cryptoquant_intervals": settings.intervals,
        "cryptoquant_spark_master": settings.spark_master,
        "cryptoquant_dbt_target": settings.dbt_target,
        "cryptoquant_repo": str(PROJECT_ROOT),
    }


def _run_airflow(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run([str(airflow_bin()), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(f"airflow {' '.join(args)} failed (exit {proc.returncode}):\n"
                         f"{(proc.stdout + proc.stderr)[-3000:]}")


def _admin_password(home: Path) -> str:
    """The admin's password; written before the api-server starts so it is known up front."""
    path = home / "passwords.json"
    users = json.loads(path.read_text()) if path.exists() else {}
    if ADMIN_USER not in users:
        users[ADMIN_USER] = secrets.token_urlsafe(12)
        path.write_text(json.dumps(users) + "\n")
        path.chmod(0o600)
    return users[ADMIN_USER]


def _pid_file(home: Path, component: str) -> Path:
    return home / f"{component}.pid"


def running(settings: Settings) -> dict[str, int | None]:
    home = airflow_home(settings)
    out = {}
    for c in COMPONENTS:
        pid = read_pid(_pid_file(home, c))
        out[c] = pid if pid_alive(pid, MARKER) else None
    return out


def up(settings: Settings, port: int = DEFAULT_PORT, echo=click.echo) -> dict:
    """Migrate the metadata DB, load connections/variables, start the three components.
    Idempotent: components already running are left alone."""
    home = airflow_home(settings)
    env = airflow_env(settings, home, port)
    from cryptoquant.orchestration import manifest_path

    if not manifest_path().exists():
        from cryptoquant.dbt import run_dbt

        echo("writing the dbt manifest (cryptoquant dbt parse) ...")
        run_dbt(settings, ["parse", "--quiet"])
    state = running(settings)
    if not all(state.values()):
        backend = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split(":")[0]
        echo(f"migrating the Airflow metadata database ({backend}) ...")
        _run_airflow(env, "db", "migrate")
        conn_file, var_file = home / "connections.json", home / "variables.json"
        conn_file.write_text(json.dumps(connections(settings), indent=2))
        var_file.write_text(json.dumps(variables(settings), indent=2))
        try:
            _run_airflow(env, "connections", "import", "--overwrite", str(conn_file))
            _run_airflow(env, "variables", "import", "-a", "overwrite", str(var_file))
        finally:
            conn_file.unlink(missing_ok=True)
    password = _admin_password(home)
    for c in COMPONENTS:
        if state[c]:
            echo(f"{c:14} already running (pid {state[c]})")
            continue
        if c == "api-server" and port_open("127.0.0.1", port):
            raise StackError(f"port {port} is taken by another process; use --port")
        log = home / "logs" / f"{c}.log"
        pid = spawn([str(airflow_bin()), c], log, _pid_file(home, c), env=env, cwd=PROJECT_ROOT)
        state[c] = pid
        echo(f"{c:14} started (pid {pid}, log {log})")
    api_pid = state["api-server"]
    wait_until(lambda: port_open("127.0.0.1", port), 180, "the Airflow api-server",
               alive=lambda: pid_alive(api_pid, MARKER), log_file=home / "logs" / "api-server.log")
    url = f"http://127.0.0.1:{port}"
    echo(f"Airflow UI: {url}  login: {ADMIN_USER} / {password}")
    echo("DAGs start paused: unpause cryptoquant_ingest and cryptoquant_warehouse in the UI "
         "(or `airflow dags unpause ...` with AIRFLOW_HOME=" + str(home) + ").")
    return {"url": url, "user": ADMIN_USER, "password": password, "pids": state}


def down(settings: Settings, echo=click.echo) -> dict:
    """Stop the components this module started, by their PID files (scheduler first)."""
    home = airflow_home(settings)
    stopped = {}
    for c in ("scheduler", "dag-processor", "api-server"):
        stopped[c] = stop_pid(_pid_file(home, c), MARKER)
        echo(f"{c:14} {'stopped' if stopped[c] else 'was not running'}")
    return stopped


@click.group()
def airflow() -> None:
    """A local Airflow (LocalExecutor) running the DAGs in dags/."""


@airflow.command("up")
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="api-server (UI) port.")
def up_command(port: int) -> None:
    """Start api-server, scheduler and dag-processor; print the UI address and login."""
    try:
        up(load_settings(), port)
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc


@airflow.command("down")
def down_command() -> None:
    """Stop what `up` started (by PID)."""
    down(load_settings())


@airflow.command("status")
def status_command() -> None:
    """Show which components run."""
    for c, pid in running(load_settings()).items():
        click.echo(f"{c:14} {f'running (pid {pid})' if pid else 'stopped'}")


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    airflow()
