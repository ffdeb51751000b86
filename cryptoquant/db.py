"""Database connections: one place that turns Settings into a MySQL/MariaDB connection."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pymysql
import pymysql.cursors

from cryptoquant.config import Settings

logger = logging.getLogger(__name__)

Role = Literal["app", "readonly", "admin"]
SQL_DIR = Path(__file__).parent / "sql"


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the message says where and why."""


def connect(
    settings: Settings,
    database: str | None = None,
    role: Role = "app",
    autocommit: bool = False,
    dict_rows: bool = False,
) -> pymysql.connections.Connection:
    """Open a connection as the application, read-only or admin user."""
    user, password = {
        "app": (settings.mysql_user, settings.mysql_password),
        "readonly": (settings.mysql_readonly_user, settings.mysql_readonly_password),
        "admin": (settings.mysql_admin_user, settings.mysql_admin_password),
    }[role]
    try:
        return pymysql.connect(
            host=settings.mysql_host,
            port=settings.mysql_port,
            user=user,
            password=password,
            database=database,
            charset="utf8mb4",
            autocommit=autocommit,
            connect_timeout=10,
            local_infile=True,
            cursorclass=pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor,
        )
    except pymysql.err.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to MySQL at {settings.mysql_host}:{settings.mysql_port} as "
            f"{user!r} (database {database!r}): {exc.args[-1]}. Is the stack up "
            "(`cryptoquant stack up`), or CQ_MYSQL_* pointing at the right server?"
        ) from exc


@contextlib.contextmanager
def connection(settings: Settings, database: str | None = None, **kwargs) -> Iterator:
    conn = connect(settings, database, **kwargs)
    try:
        yield conn
    finally:
        conn.close()


def staging(settings: Settings, **kwargs):
    return connection(settings, settings.mysql_staging_database, **kwargs)


def warehouse(settings: Settings, **kwargs):
    return connection(settings, settings.mysql_warehouse_database, **kwargs)


def load_data_sql(table: str, columns: list[str], settings: str = "") -> str:
    """``LOAD DATA LOCAL INFILE %s`` into ``table`` (quoted by the caller) in the project's one
    text dialect: tab-separated, backslash-escaped (``\\N`` is null), one row per line, UTF-8;
    ``settings``: an optional ``SET`` clause. The file's path is the statement's parameter."""
    return (f"load data local infile %s into table {table} character set utf8mb4 "
            "fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' "
            f"({', '.join(columns)}){settings}")


def run_sql_script(conn, script: str) -> None:
    """Execute a ;-separated script (no procedures); comments are allowed."""
    with conn.cursor() as cur:
        for statement in split_sql(script):
            cur.execute(statement)
    conn.commit()


def split_sql(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def provision(settings: Settings) -> None:
    """Create both databases, the application and read-only users, and the landing tables.

    Runs as the admin user; idempotent. Against an existing server where the admin user is
    not available, run the same statements once by hand (see README).
    """
    staging_db, warehouse_db = settings.mysql_staging_database, settings.mysql_warehouse_database
    app, ro = settings.mysql_user, settings.mysql_readonly_user
    with connection(settings, role="admin", autocommit=True) as conn, conn.cursor() as cur:
        for db in (staging_db, warehouse_db):
            cur.execute(f"create database if not exists `{db}` character set utf8mb4")
        for user, password in ((app, settings.mysql_password), (ro, settings.mysql_readonly_password)):
            for host in ("localhost", "127.0.0.1", "%"):
                cur.execute(
                    "create user if not exists %s@%s identified by %s", (user, host, password)
                )
                cur.execute("alter user %s@%s identified by %s", (user, host, password))
        for host in ("localhost", "127.0.0.1", "%"):
            for db in (staging_db, warehouse_db):
                cur.execute(f"grant all privileges on `{db}`.* to %s@%s", (app, host))
                cur.execute(f"grant select, show view on `{db}`.* to %s@%s", (ro, host))
    with staging(settings) as conn:
        run_sql_script(conn, (SQL_DIR / "staging.sql").read_text())
    logger.info("provisioned databases %s and %s", staging_db, warehouse_db)
