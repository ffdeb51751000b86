"""The model-level not-null test (dbt_project/tests/generic/not_null_columns.sql): it fails on
any listed column holding a null and names each such column with its count of null rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryptoquant import db
from cryptoquant.dbt import DbtFailed
from cryptoquant.dbt import run_dbt as _run_dbt
from tests.dbt.conftest import CUT, fetch

NULLED = ("trend_score", "action_reason")  # listed in fact_prediction's not_null_columns
SELECT = ["--select", "fact_prediction,test_name:not_null_columns"]


@pytest.fixture
def nulled_predictions(warehouse):
    """Two old predictions with trend_score null, one of them with action_reason null too; put
    back afterwards (other tests read this warehouse)."""
    rows = fetch(warehouse, "select prediction_id, trend_score, action_reason from fact_prediction "
                 "where open_time < %s order by open_time limit 2", (CUT,))
    with db.warehouse(warehouse) as conn, conn.cursor() as cur:
        cur.execute("update fact_prediction set trend_score = null where prediction_id in (%s, %s)",
                    tuple(r[0] for r in rows))
        cur.execute("update fact_prediction set action_reason = null where prediction_id = %s",
                    (rows[0][0],))
        conn.commit()
    yield
    with db.warehouse(warehouse) as conn, conn.cursor() as cur:
        cur.executemany("update fact_prediction set trend_score = %s, action_reason = %s "
                        "where prediction_id = %s", [(r[1], r[2], r[0]) for r in rows])
        conn.commit()


def run_test(settings, target_path: str) -> dict:
    """`dbt test` of fact_prediction's not-null test; its run result."""
    try:
        _run_dbt(settings, ["test", *SELECT, "--target-path", target_path], capture=True)
    finally:
        results = json.loads((Path(target_path) / "run_results.json").read_text())["results"]
    (result,) = results
    return result


def test_passes_on_a_table_without_nulls(warehouse, dbt_target_path):
    result = run_test(warehouse, dbt_target_path)
    assert result["status"] == "pass"
    for column in NULLED:
        assert f"'{column}' as column_name" in result["compiled_code"]


def test_fails_naming_each_column_with_its_null_rows(warehouse, dbt_target_path,
                                                     nulled_predictions):
    with pytest.raises(DbtFailed):
        run_test(warehouse, dbt_target_path)
    result = json.loads((Path(dbt_target_path) / "run_results.json").read_text())["results"][0]
    assert result["status"] == "fail"
    assert result["failures"] == 2  # one failing row per column holding nulls
    failing = dict(fetch(warehouse, result["compiled_code"]))
    assert failing == {"trend_score": 2, "action_reason": 1}
