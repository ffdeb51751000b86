"""One writer at a time per warehouse (cryptoquant/writer_lock.py): the second waits, names the
first when it gives up, and pipeline steps, live rounds and the DAGs' dbt tasks all take it."""

from __future__ import annotations

import threading
import time

import pytest

from cryptoquant import db, writer_lock
from cryptoquant.pipeline import Step, run_step
from cryptoquant.writer_lock import WriterBusy, lock_name, warehouse_writer

PROBE: dict = {}


def _lock_owner(settings) -> int | None:
    with db.connection(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("select is_used_lock(%s)", (lock_name(settings),))
        return cur.fetchone()[0]


def probe_step(settings) -> dict:
    """A pipeline step that records who holds the writer lock while it runs."""
    PROBE["owner"] = _lock_owner(settings)
    return {}


def _wait_until(what: str, fn, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout:.0f}s")


@pytest.fixture
def settings(make_settings):
    return make_settings("wlock")


def test_a_second_writer_waits_for_the_first(settings):
    """The first writer is another process (its own connection holding the lock); the second
    waits inside GET_LOCK and goes on as soon as the first lets go."""
    order: list[str] = []

    def second():
        with warehouse_writer(settings, "second", wait_seconds=60):
            order.append("second")

    def second_waits_in_get_lock() -> bool:
        with db.connection(settings, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from information_schema.processlist "
                        "where info like %s and id <> connection_id()",
                        ("select get_lock('" + lock_name(settings) + "'%",))
            return cur.fetchone()[0] > 0

    with db.connection(settings, autocommit=True) as first, first.cursor() as cur:
        cur.execute("select get_lock(%s, 0)", (lock_name(settings),))
        assert cur.fetchone()[0] == 1
        t = threading.Thread(target=second)
        t.start()
        _wait_until("the second writer waiting in GET_LOCK", second_waits_in_get_lock)
        order.append("first")
        cur.execute("select release_lock(%s)", (lock_name(settings),))
    t.join(timeout=60)
    assert order == ["first", "second"]
    assert _lock_owner(settings) is None  # the second released it too


def test_a_busy_warehouse_fails_with_the_holder_named(settings, make_settings):
    other = make_settings("wlock_other")  # another warehouse: its own lock
    with db.connection(settings, autocommit=True) as holder, holder.cursor() as cur:
        cur.execute("select get_lock(%s, 0), connection_id()", (lock_name(settings),))
        got, holder_id = cur.fetchone()
        assert got == 1
        with pytest.raises(WriterBusy) as err, \
                warehouse_writer(settings, "step dbt_marts of run r1", wait_seconds=0):
            pass
        message = str(err.value)
        assert "step dbt_marts of run r1" in message and f"connection {holder_id}" in message
        assert settings.mysql_warehouse_database in message
        with warehouse_writer(other, "elsewhere", wait_seconds=0):
            assert _lock_owner(other) is not None
    # the holder's connection closed: the lock is free again without any clean-up
    with warehouse_writer(settings, "after", wait_seconds=0):
        assert _lock_owner(settings) is not None


def test_the_lock_is_reentrant_within_a_thread(settings):
    with warehouse_writer(settings, "outer", wait_seconds=0):
        owner = _lock_owner(settings)
        with warehouse_writer(settings, "inner", wait_seconds=0):
            assert _lock_owner(settings) == owner
        assert _lock_owner(settings) == owner
    assert _lock_owner(settings) is None


def test_warehouse_steps_hold_the_lock_and_landing_steps_do_not(settings):
    target = f"{__name__}:probe_step"
    run_step(settings, Step("probe_writer", target, "probe"), "wlock-run")
    assert PROBE.pop("owner") is not None
    run_step(settings, Step("probe_lander", target, "probe", writes_warehouse=False), "wlock-run")
    assert PROBE.pop("owner") is None


def test_a_warehouse_step_waits_out_a_live_round_then_fails_clearly(settings):
    busy = settings.replace(writer_lock_wait_seconds=0)
    with db.connection(settings, autocommit=True) as holder, holder.cursor() as cur:
        cur.execute("select get_lock(%s, 0)", (lock_name(settings),))
        with pytest.raises(WriterBusy, match="step probe_writer of run wlock-busy"):
            run_step(busy, Step("probe_writer", f"{__name__}:probe_step", "probe"), "wlock-busy")
    assert "owner" not in PROBE
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select status, detail from pipeline_runs where run_id = 'wlock-busy'")
        status, detail = cur.fetchone()
    assert status == "failed" and "WriterBusy" in detail


def test_airflow_hooks_hold_the_lock_for_the_task(settings):
    hooks = writer_lock.airflow_hooks(lambda: settings)
    hooks["pre_execute"]({"ti": type("TI", (), {"task_id": "dbt_marts.fact_prediction_run"})()})
    try:
        assert _lock_owner(settings) is not None
    finally:
        hooks["post_execute"]({}, None)
    assert _lock_owner(settings) is None
