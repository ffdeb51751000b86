"""dbt docs generate works, and every model and column of this area has a description."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryptoquant.dbt import run_dbt
from tests.dbt.conftest import MODEL_PATHS


@pytest.fixture(scope="module")
def docs(warehouse, dbt_target_path):
    run_dbt(warehouse, ["docs", "generate", "--select", *MODEL_PATHS,
                        "--target-path", dbt_target_path], capture=True)
    target = Path(dbt_target_path)
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    prefixes = tuple(p.removeprefix("path:") + "/" for p in MODEL_PATHS)
    models = {uid: node for uid, node in manifest["nodes"].items()
              if node["resource_type"] == "model"
              and node["original_file_path"].startswith(prefixes)}
    return models, catalog

@pytest.mark.integration
def test_docs_generate_writes_the_site(docs, dbt_target_path):
    models, catalog = docs
    assert (Path(dbt_target_path) / "index.html").exists()
    assert {"model.cryptoquant.fact_prediction", "model.cryptoquant.fact_kline"} <= set(models)
    assert "model.cryptoquant.fact_prediction" in catalog["nodes"]


@pytest.mark.integration
def test_every_model_has_a_description(docs):
    models, _ = docs
    missing = [node["name"] for node in models.values() if not node["description"].strip()]
    assert not missing


@pytest.mark.integration
def test_every_column_has_a_description(docs):
    models, catalog = docs
    missing = []
    for uid, node in models.items():
        documented = {name.lower(): c["description"].strip()
                      for name, c in node["columns"].items()}
        if node["config"]["materialized"] == "ephemeral":
            actual = set(documented)  # not in the database; the yml is the only source
        else:
            actual = {name.lower() for name in catalog["nodes"][uid]["columns"]}
        missing += [f"{node['name']}.{c}" for c in sorted(actual) if not documented.get(c)]
    assert not missing, missing
