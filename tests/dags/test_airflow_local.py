"""The local Airflow's configuration is derived from the project's settings."""

from __future__ import annotations

import json

from cryptoquant import airflow_local
from cryptoquant.config import PROJECT_ROOT, load_settings


def _settings(tmp_path, **changes):
    return load_settings(env={}, env_file=None).replace(stack_dir=str(tmp_path), **changes)


def test_environment_configures_a_small_local_executor(tmp_path, monkeypatch):
    monkeypatch.setattr(airflow_local.os, "cpu_count", lambda: 2)
    settings = _settings(tmp_path, spark_master="spark://spark-master:7077")
    home = airflow_local.airflow_home(settings)
    env = airflow_local.airflow_env(settings, home, port=8181, base={"PATH": "/usr/bin"})
    assert home == tmp_path / "airflow"
    assert env["AIRFLOW_HOME"] == str(home)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "2"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8181/execution/"
    assert env["CQ_SPARK_MASTER"] == "spark://spark-master:7077"
    assert env["CQ_MYSQL_WAREHOUSE_DATABASE"] == settings.mysql_warehouse_database
    assert env["PATH"].endswith("/usr/bin") and env["PATH"] != "/usr/bin"


def test_secrets_are_generated_once_and_kept(tmp_path):
    settings = _settings(tmp_path)
    home = airflow_local.airflow_home(settings)
    first = airflow_local.airflow_env(settings, home, base={})
    second = airflow_local.airflow_env(settings, home, base={})
    assert first["AIRFLOW__API_AUTH__JWT_SECRET"] == second["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert first["AIRFLOW__CORE__FERNET_KEY"] == second["AIRFLOW__CORE__FERNET_KEY"]
    assert (home / "jwt.secret").stat().st_mode & 0o077 == 0
    password = airflow_local._admin_password(home)
    assert password == airflow_local._admin_password(home)
    assert json.loads((home / "passwords.json").read_text()) == {"admin": password}


def test_a_configured_metadata_database_is_kept(tmp_path):
    settings = _settings(tmp_path)
    url = "mysql+pymysql://airflow:pw@db.example:3306/airflow"
    env = airflow_local.airflow_env(settings, tmp_path / "home",
                                    base={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url})
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == url


def test_connections_and_variables_come_from_the_settings(tmp_path):
    settings = _settings(tmp_path, mysql_host="db.example", mysql_port=3306,
                         kafka_bootstrap_servers="k1:9093,k2:9093", spark_master="yarn")
    conns = airflow_local.connections(settings)
    mysql = conns["cryptoquant_mysql"]
    assert (mysql["host"], mysql["port"], mysql["login"], mysql["schema"]) == (
        "db.example", 3306, settings.mysql_user, settings.mysql_warehouse_database)
    assert (conns["cryptoquant_kafka"]["host"], conns["cryptoquant_kafka"]["port"]) == ("k1", 9093)
    assert json.loads(conns["cryptoquant_kafka"]["extra"])["bootstrap.servers"] == "k1:9093,k2:9093"
    assert conns["spark_default"]["host"] == "yarn"
    variables = airflow_local.variables(settings)
    assert variables["cryptoquant_spark_master"] == "yarn"
    assert variables["cryptoquant_symbols"] == settings.symbols
    assert not any("password" in key for key in variables)
