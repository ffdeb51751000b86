"""One writer at a time per warehouse.

The batch pipeline (``cryptoquant pipeline run``, the Airflow DAGs) and the live refresh
(``cryptoquant pipeline live``) rebuild the same dbt models and upsert the same Spark table.
Run at the same moment, two ``dbt run``s create and swap the same ``__dbt_tmp`` tables and fail
or leave a half-built model. So every step that writes the warehouse, every dbt task of the
DAGs and every live round first takes a MariaDB named lock (``GET_LOCK``) named after the
warehouse database: the second writer waits for the first (up to
``CQ_WRITER_LOCK_WAIT_SECONDS``, saying whom it waits for), then runs.

A named lock lives as long as the connection that took it, so a writer that crashes or is
killed releases it with its connection: there is no stale lock to clean up by hand. The lock is
re-entrant within a process (an Airflow task that holds it for a dbt task group and calls a step
that asks again is not blocked by itself); other threads of the process wait like other
processes do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptoquant import db
from cryptoquant.config import Settings

logger = logging.getLogger(__name__)

WAIT_REPORT_SECONDS = 30  # how often a waiting writer says that it still waits


class WriterBusy(RuntimeError):
    """Another writer held the warehouse for longer than the wait allowed."""


def lock_name(settings: Settings) -> str:
    # Named locks are server-wide (so the database name tells warehouses apart) and at most
    # 64 characters long (database names are too).
    return f"cqw.{settings.mysql_warehouse_database}"


class _Held:
    """The lock as held by this process: its connection, the owning thread and a depth."""

    def __init__(self) -> None:
        self.guard = threading.RLock()
        self.conn = None
        self.depth = 0


_held: dict[str, _Held] = {}
_registry_lock = threading.Lock()


def _state(name: str) -> _Held:
    with _registry_lock:
        return _held.setdefault(name, _Held())


def _holder(cur, name: str) -> str:
    """Who holds ``name``: the connection id and, when visible, its user, host and command."""
    cur.execute("select is_used_lock(%s)", (name,))
    (conn_id,) = cur.fetchone()
    if conn_id is None:
        return "nobody (just released)"
    cur.execute("select user, host, command, time from information_schema.processlist "
                "where id = %s", (conn_id,))
    row = cur.fetchone()
    if row is None:
        return f"connection {conn_id}"
    return f"connection {conn_id} ({row[0]}@{row[1]}, {row[2]} for {row[3]} s)"


def _acquire(settings: Settings, name: str, who: str, wait_seconds: float):
    conn = db.connect(settings, autocommit=True)
    try:
        deadline = time.monotonic() + wait_seconds
        with conn.cursor() as cur:
            while True:
                chunk = max(0, min(WAIT_REPORT_SECONDS, deadline - time.monotonic()))
                cur.execute("select get_lock(%s, %s)", (name, chunk))
                if cur.fetchone()[0] == 1:
                    return conn
                holder = _holder(cur, name)
                if time.monotonic() >= deadline:
                    raise WriterBusy(
                        f"{who}: the warehouse {settings.mysql_warehouse_database!r} is being "
                        f"written by {holder} (lock {name!r}) and was not released within "
                        f"{wait_seconds:.0f} s (CQ_WRITER_LOCK_WAIT_SECONDS); "
                        "is a live refresh or another pipeline run still going?")
                logger.info("%s waits for the warehouse writer lock, held by %s", who, holder)
    except BaseException:
        conn.close()
        raise


@contextmanager
def warehouse_writer(settings: Settings, who: str,
                     wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block (``who`` names the writer in messages)."""
    acquire(settings, who, wait_seconds)
    try:
        yield
    finally:
        release(settings)


def acquire(settings: Settings, who: str, wait_seconds: float | None = None) -> None:
    name = lock_name(settings)
    state = _state(name)
    state.guard.acquire()
    try:
        if state.depth == 0:
            wait = settings.writer_lock_wait_seconds if wait_seconds is None else wait_seconds
            state.conn = _acquire(settings, name, who, wait)
        state.depth += 1
    except BaseException:
        state.guard.release()
        raise


def release(settings: Settings) -> None:
    name = lock_name(settings)
    state = _state(name)
    state.depth -= 1
    try:
        if state.depth == 0 and state.conn is not None:
            conn, state.conn = state.conn, None
            try:
                with conn.cursor() as cur:
                    cur.execute("do release_lock(%s)", (name,))
            except Exception:  # closing the connection releases it as well
                logger.debug("release_lock failed; closing the connection", exc_info=True)
            finally:
                conn.close()
    finally:
        state.guard.release()


def airflow_hooks(settings_factory: Callable[[], Settings]) -> dict[str, Any]:
    """``pre_execute``/``post_execute`` for operators that write the warehouse (the Cosmos dbt
    tasks): hold the lock while the task runs. A task that fails skips ``post_execute``; its
    process ends and the connection with it, which releases the lock."""

    def pre_execute(context: Any) -> None:
        ti = context.get("ti") or context.get("task_instance")
        acquire(settings_factory(), f"airflow task {getattr(ti, 'task_id', '?')}")

    def post_execute(context: Any, result: Any = None) -> None:
        release(settings_factory())

    return {"pre_execute": pre_execute, "post_execute": post_execute}
