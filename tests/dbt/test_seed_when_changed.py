"""Seeds are reloaded only when they change (dbt_project/macros/seed_when_changed.sql): a build
after an unchanged seed leaves its table alone and says UNCHANGED; a table whose stored
fingerprint is missing or differs (the CSV or its column types changed since it was loaded) is
reloaded, and so is every seed on --full-refresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryptoquant import db
from cryptoquant.dbt import run_dbt
from tests.dbt.conftest import fetch

pytestmark = pytest.mark.integration

SEED = "symbols"


def seed(settings, target_path: str, *extra: str) -> str:
    """Load the one seed; the message dbt reports for it (INSERT n, CREATE n or UNCHANGED)."""
    run_dbt(settings, ["seed", "--select", SEED, "--target-path", target_path, *extra],
            capture=True)
    results = json.loads((Path(target_path) / "run_results.json").read_text())["results"]
    (result,) = results
    assert result["status"] == "success"
    return result["adapter_response"]["_message"]


def execute(settings, sql: str) -> None:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(sql)
        conn.commit()


def comment(settings) -> str:
    return fetch(settings, "select table_comment from information_schema.tables "
                           "where table_schema = %s and table_name = %s",
                 (settings.mysql_warehouse_database, SEED))[0][0]


def names(settings) -> list[str]:
    return [row[0] for row in fetch(settings, f"select symbol_code from {SEED} order by symbol_code")]


@pytest.fixture(scope="module")
def seeded(make_settings, dbt_target_path):
    settings = make_settings("seed")
    assert seed(settings, dbt_target_path).startswith(("INSERT", "CREATE"))
    return settings


def test_the_first_load_stores_a_fingerprint_and_an_unchanged_seed_is_left_alone(
        seeded, dbt_target_path):
    loaded = names(seeded)
    assert loaded == ["BNBUSDT", "BTCUSDT", "ETHUSDT"]
    assert comment(seeded).startswith("seed fingerprint ")
    # A row changed by hand survives a plain build: the file did not change, so nothing loads.
    execute(seeded, f"update {SEED} set symbol_code = 'XXXUSDT' where symbol_code = 'BNBUSDT'")
    assert seed(seeded, dbt_target_path) == "UNCHANGED"
    assert "XXXUSDT" in names(seeded)
    # --full-refresh reloads it from the file.
    assert seed(seeded, dbt_target_path, "--full-refresh").startswith(("INSERT", "CREATE"))
    assert names(seeded) == loaded


def test_a_table_loaded_from_another_file_is_reloaded(seeded, dbt_target_path):
    fingerprint = comment(seeded)
    for stored in ("seed fingerprint 0123456789abcdef0123456789abcdef", ""):
        execute(seeded, f"update {SEED} set symbol_code = 'XXXUSDT' where symbol_code = 'BNBUSDT'")
        execute(seeded, f"alter table {SEED} comment = '{stored}'")
        assert seed(seeded, dbt_target_path).startswith("INSERT")
        assert "XXXUSDT" not in names(seeded)
        assert comment(seeded) == fingerprint
