"""Fixtures for the ingestion tests: isolated databases/topics and helpers to count rows."""

from __future__ import annotations

import pytest

from cryptoquant import db


@pytest.fixture
def fresh(make_settings):
    """Settings with empty staging/warehouse databases and unique topics, per test."""
    return make_settings("ld")


def count(settings, sql: str, args=()) -> int:
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def rows(settings, sql: str, args=()) -> list[tuple]:
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())
