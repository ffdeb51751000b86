"""Inside `dbt build`, the tests of an incremental model check the rows that build wrote; a
separate `dbt test`, or a build with `test_all_rows`, checks the whole table
(dbt_project/macros/get_where_subquery.sql)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryptoquant import db
from cryptoquant.dbt import DbtFailed
from cryptoquant.dbt import run_dbt as _run_dbt
from tests.dbt.conftest import CUT, fetch

SELECT = ["--indirect-selection", "cautious", "--select", "fact_prediction"]
BROKEN_TEST = "expression_is_true_fact_prediction_predicting_at_open_time"


@pytest.fixture
def broken_old_prediction(warehouse):
    """One prediction written by an earlier build, made to break the test
    `predicting_at > open_time`; put back afterwards (other tests read this warehouse)."""
    (prediction_id, predicting_at), = fetch(
        warehouse, "select prediction_id, predicting_at from fact_prediction "
        "where open_time < %s order by open_time limit 1", (CUT,))
    with db.warehouse(warehouse) as conn, conn.cursor() as cur:
        cur.execute("update fact_prediction set predicting_at = open_time "
                    "where prediction_id = %s", (prediction_id,))
        conn.commit()
    yield prediction_id
    with db.warehouse(warehouse) as conn, conn.cursor() as cur:
        cur.execute("update fact_prediction set predicting_at = %s where prediction_id = %s",
                    (predicting_at, prediction_id))
        conn.commit()


def run_dbt(settings, target_path: str, *args) -> dict[str, dict]:
    """Run dbt; the results by node name (raises DbtFailed when a test fails)."""
    try:
        _run_dbt(settings, [*args, "--target-path", target_path], capture=True)
    finally:
        results = json.loads((Path(target_path) / "run_results.json").read_text())["results"]
        run_dbt.last = {r["unique_id"].split(".")[2]: r for r in results}
    return run_dbt.last


def test_build_checks_only_the_rows_it_wrote(warehouse, dbt_target_path, broken_old_prediction):
    results = run_dbt(warehouse, dbt_target_path, "build", *SELECT)
    test = next(r for name, r in results.items() if name.startswith(BROKEN_TEST))
    assert test["status"] == "pass"
    # the test read fact_prediction through the filter on this build's start
    assert "refreshed_at >= cast(" in test["compiled_code"]


def test_tests_comparing_rows_with_others_read_every_row(warehouse, dbt_target_path):
    """A gap or an order break can lie between a kept candle and a new one."""
    results = run_dbt(warehouse, dbt_target_path, "build", "--indirect-selection", "cautious",
                      "--select", "fact_kline", "dim_exchange_outage", "dim_interval")
    compiled = {name.split("_fact_kline")[0]: r["compiled_code"] for name, r in results.items()
                if r["unique_id"].startswith("test.")}
    assert "refreshed_at >= cast(" in compiled["not_null_columns"]
    for whole in ("no_kline_gaps", "strictly_increasing"):
        assert "refreshed_at >= cast(" not in compiled[whole], whole


def test_dbt_test_checks_every_row(warehouse, dbt_target_path, broken_old_prediction):
    with pytest.raises(DbtFailed):
        run_dbt(warehouse, dbt_target_path, "test", *SELECT)
    failed = [name for name, r in run_dbt.last.items() if r["status"] == "fail"]
    broken = [name for name in failed if name.startswith(BROKEN_TEST)]
    assert broken, failed
    assert "refreshed_at >= cast(" not in run_dbt.last[broken[0]]["compiled_code"]


def test_build_with_test_all_rows_checks_every_row(warehouse, dbt_target_path,
                                                   broken_old_prediction):
    with pytest.raises(DbtFailed):
        run_dbt(warehouse, dbt_target_path, "build", *SELECT, "--vars", "{test_all_rows: true}")
    failed = [name for name, r in run_dbt.last.items() if r["status"] == "fail"]
    assert [name for name in failed if name.startswith(BROKEN_TEST)], failed


STAGE_ORDER = ("base", "marts", "patterns")  # cryptoquant.dbt.STAGES, in pipeline order


def test_scoped_tests_run_in_the_build_that_writes_their_rows(warehouse, dbt_target_path):
    """A build's start only marks the rows of models built in that same `dbt build`: a test of a
    scoped model that waited for a later stage (because another of its parents is built there)
    would check no rows at all."""
    _run_dbt(warehouse, ["parse", "--target-path", dbt_target_path], capture=True)
    nodes = json.loads((Path(dbt_target_path) / "manifest.json").read_text())["nodes"]

    def stage(uid: str) -> int:
        tags = set(nodes[uid]["tags"]) if uid in nodes else set()
        return max((STAGE_ORDER.index(t) for t in tags & set(STAGE_ORDER)), default=-1)

    scoped = {uid for uid, n in nodes.items()
              if n["resource_type"] == "model"
              and n["config"]["meta"].get("tests_check_rows_of_this_build")}
    assert len(scoped) >= 9
    for uid in scoped:
        assert nodes[uid]["config"]["materialized"] == "incremental", uid
        assert "refreshed_at" in nodes[uid]["columns"], uid
    tests = [n for n in nodes.values()
             if n["resource_type"] == "test" and n.get("attached_node") in scoped]
    assert len(tests) > 40
    late = [n["name"] for n in tests
            if max(stage(p) for p in n["depends_on"]["nodes"]) > stage(n["attached_node"])]
    assert late == []
