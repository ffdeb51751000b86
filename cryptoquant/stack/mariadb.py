"""A private MariaDB server under .stack/mariadb (own data directory, port and socket)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pymysql

from cryptoquant import db
from cryptoquant.config import Settings
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

APT_PACKAGES = ["mariadb-server", "mariadb-client", "libmariadb-java"]


def _dir(settings: Settings) -> Path:
    return settings.stack_path / "mariadb"


def _pid_file(settings: Settings) -> Path:
    return _dir(settings) / "mariadbd.pid"


def _log_file(settings: Settings) -> Path:
    return _dir(settings) / "mariadbd.log"


def _marker(settings: Settings) -> str:
    return str(_dir(settings) / "data")


def ensure_installed() -> None:
    """Install MariaDB (and its JDBC driver, used by Spark) from the system's packages."""
    if shutil.which("mariadbd") and Path("/usr/share/java/mariadb-java-client.jar").exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise StackError(
            "MariaDB is not installed. Install it with your package manager, e.g. "
            f"`sudo apt-get install {' '.join(APT_PACKAGES)}`, or point CQ_MYSQL_HOST/PORT at "
            "an existing server and set CQ_MYSQL_MANAGED=false."
        )
    logger.info("installing %s from the system's packages", ", ".join(APT_PACKAGES))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], check=True, env=env)


def is_running(settings: Settings) -> bool:
    return pid_alive(read_pid(_pid_file(settings)), _marker(settings))


def _ping(settings: Settings) -> bool:
    try:
        db.connect(settings, role="admin").close()
        return True
    except (db.DatabaseUnavailable, pymysql.err.MySQLError):
        return False


def start(settings: Settings) -> bool:
    """Start the private server if it is not running; returns True when it was started."""
    if is_running(settings):
        return False
    if port_open(settings.mysql_host, settings.mysql_port):
        raise StackError(
            f"port {settings.mysql_port} on {settings.mysql_host} is already taken by another "
            "process (not this stack's MariaDB). Stop it, or choose a free port with "
            "CQ_MYSQL_PORT, or use that server with CQ_MYSQL_MANAGED=false."
        )
    ensure_installed()
    base = _dir(settings)
    data = base / "data"
    if not (data / "mysql").exists():
        data.mkdir(parents=True, exist_ok=True)
        logger.info("initialising MariaDB data directory %s", data)
        subprocess.run(
            ["mariadb-install-db", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    tmp = base / "tmp"
    tmp.mkdir(exist_ok=True)
    cmd = [
        "mariadbd", "--no-defaults", f"--datadir={data}", f"--port={settings.mysql_port}",
        f"--bind-address={settings.mysql_host}", f"--socket={base / 'mariadbd.sock'}",
        f"--pid-file={base / 'mariadbd.server.pid'}", f"--log-error={_log_file(settings)}",
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
        "--user=root", "--innodb-buffer-pool-size=1G", "--max-connections=300",
        "--innodb-flush-log-at-trx-commit=2", "--local-infile=1",
        f"--tmpdir={tmp}",  # private: nothing else cleans MariaDB's temporary tables away
    ]
    if os.geteuid() != 0:
        cmd.remove("--user=root")
    pid = spawn(cmd, base / "mariadbd.stdout", _pid_file(settings))
    # Liveness by PID alone here: right after fork the command line is still Python's.
    wait_until(lambda: _ping(settings), 60, "MariaDB",
               alive=lambda: pid_alive(pid), log_file=_log_file(settings))
    logger.info("MariaDB up on %s:%s", settings.mysql_host, settings.mysql_port)
    return True


def stop(settings: Settings) -> bool:
    return stop_pid(_pid_file(settings), _marker(settings), timeout=60)


def status(settings: Settings) -> dict:
    reachable = _ping(settings) if settings.mysql_managed else _reachable_as_app(settings)
    return {
        "managed": settings.mysql_managed,
        "running": is_running(settings) if settings.mysql_managed else reachable,
        "reachable": reachable,
        "host": settings.mysql_host,
        "port": settings.mysql_port,
        "user": settings.mysql_user,
        "password": settings.mysql_password,
        "readonly_user": settings.mysql_readonly_user,
        "readonly_password": settings.mysql_readonly_password,
        "staging_database": settings.mysql_staging_database,
        "warehouse_database": settings.mysql_warehouse_database,
        "pid": read_pid(_pid_file(settings)) if settings.mysql_managed else None,
        "log": str(_log_file(settings)),
    }


def _reachable_as_app(settings: Settings) -> bool:
    try:
        db.connect(settings).close()
        return True
    except db.DatabaseUnavailable:
        return False
