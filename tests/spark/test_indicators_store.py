"""The indicator job's own tables: indicator_values carries the computed_at index that
fact_indicator's incremental load reads by, also when the table predates it."""

from __future__ import annotations

from cryptoquant import db
from spark.indicators import _store


def _indexes(settings) -> set[str]:
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select distinct index_name from information_schema.statistics "
                    "where table_schema = database() and table_name = %s",
                    (_store.VALUES_TABLE,))
        return {r[0] for r in cur.fetchall()}


def test_values_table_gets_the_computed_at_index_new_or_old(make_settings):
    settings = make_settings("ind_store")
    _store.ensure_tables(settings)
    assert _store.COMPUTED_AT_INDEX in _indexes(settings)

    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"alter table {_store.VALUES_TABLE} drop index {_store.COMPUTED_AT_INDEX}")
    assert _store.COMPUTED_AT_INDEX not in _indexes(settings)  # a table from before the index
    _store.ensure_tables(settings)
    _store.ensure_tables(settings)  # and again: idempotent
    assert _store.COMPUTED_AT_INDEX in _indexes(settings)
