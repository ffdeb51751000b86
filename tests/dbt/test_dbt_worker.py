"""The dbt commands of one Python process run in one long-lived dbt process
(cryptoquant/_dbt_worker.py) and still behave as separate `dbt` command lines: each reads the
settings it was called with, gets its own run_started_at (the refreshed_at of the rows it
writes, which the incremental models compare), returns a failing command's exit code and
output, and a worker that died is replaced by the next command."""

from __future__ import annotations

import json
import os
import signal

import pytest

from cryptoquant import dbt
from cryptoquant.config import load_settings

pytestmark = pytest.mark.integration

SHOW = "select '{{ target.schema }}' as schema_name, '{{ run_started_at }}' as started_at"


def show(settings, target_path: str) -> dict:
    out = dbt.run_dbt(settings, ["show", "--inline", SHOW, "--output", "json",
                                 "--target-path", target_path], capture=True)
    return json.loads(out[out.index("{"):out.rindex("}") + 1])["show"][0]


def test_commands_share_one_process_and_keep_their_own_settings(dbt_target_path):
    base = load_settings()
    first = show(base.replace(mysql_warehouse_database="cqt_worker_a"), dbt_target_path)
    pid = dbt._WORKER._proc.pid
    second = show(base.replace(mysql_warehouse_database="cqt_worker_b"), dbt_target_path)
    assert dbt._WORKER._proc.pid == pid
    assert (first["schema_name"], second["schema_name"]) == ("cqt_worker_a", "cqt_worker_b")
    assert first["started_at"] < second["started_at"]


def test_a_failing_command_raises_with_its_output(dbt_target_path):
    with pytest.raises(dbt.DbtFailed, match=r"(?s)exit 2\): .*no_such_macro. is undefined"):
        dbt.run_dbt(load_settings(), ["show", "--inline", "select {{ no_such_macro() }}",
                                      "--target-path", dbt_target_path], capture=True)
    assert show(load_settings(), dbt_target_path)["schema_name"]  # the worker still serves


def test_a_dead_worker_is_replaced(dbt_target_path):
    show(load_settings(), dbt_target_path)
    pid = dbt._WORKER._proc.pid
    os.kill(pid, signal.SIGKILL)
    dbt._WORKER._proc.wait()
    assert show(load_settings(), dbt_target_path)["schema_name"]
    assert dbt._WORKER._proc.pid != pid
