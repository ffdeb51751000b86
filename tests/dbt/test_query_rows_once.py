"""query_rows_once (dbt_project/macros/query_rows_once.sql): a model's change query, asked
again by its pre-hook in the same node and invocation, is answered from the first run; a new
invocation (also in the pipeline's long-lived dbt process) queries again."""

from __future__ import annotations

import json

import pytest

from cryptoquant.config import load_settings
from cryptoquant.dbt import run_dbt

pytestmark = pytest.mark.integration

TWICE = ("{% if execute %}"
         "select '{{ query_rows_once(\"select uuid()\")[0][0] }}' as first_answer, "
         "'{{ query_rows_once(\"select uuid()\")[0][0] }}' as second_answer, "
         "'{{ run_query(\"select uuid()\").rows[0][0] }}' as uncached"
         "{% else %}select 1{% endif %}")


def answers(target_path: str) -> dict:
    out = run_dbt(load_settings(), ["show", "--inline", TWICE, "--output", "json",
                                    "--target-path", target_path], capture=True)
    return json.loads(out[out.index("{"):out.rindex("}") + 1])["show"][0]


def test_asked_twice_in_one_node_the_query_runs_once(dbt_target_path):
    first = answers(dbt_target_path)
    assert first["first_answer"] == first["second_answer"]
    assert first["uncached"] != first["first_answer"]  # uuid() differs per query
    assert answers(dbt_target_path)["first_answer"] != first["first_answer"]
