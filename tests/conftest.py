"""Shared fixtures: the running stack and isolated databases/topics per test session.

Every test session gets its own staging and warehouse databases (``cqt_<id>_staging`` /
``cqt_<id>_warehouse``) and its own Kafka topic names, so tests never touch the demo
warehouse and can run beside it. Set CQ_TEST_KEEP_DATABASES=1 to keep them for inspection.
"""

from __future__ import annotations

import os
import uuid

import pytest

from cryptoquant import db
from cryptoquant.config import Settings, load_settings


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The configured settings, with the stack brought up (a no-op when already up)."""
    from cryptoquant.stack import manager

    settings = load_settings()
    manager.up(settings)
    return settings


@pytest.fixture(scope="session")
def make_settings(base_settings):
    """Factory: ``make_settings("name")`` gives Settings with fresh, provisioned databases and
    unique topic names. Databases are dropped at the end of the session."""
    created: list[str] = []

    def factory(label: str = "t") -> Settings:
        uid = f"{label}_{uuid.uuid4().hex[:8]}"
        s = base_settings.replace(
            mysql_staging_database=f"cqt_{uid}_staging",
            mysql_warehouse_database=f"cqt_{uid}_warehouse",
            kafka_topic_klines=f"cqt.{uid}.klines",
            kafka_topic_news=f"cqt.{uid}.news",
            kafka_topic_dead_letter=f"cqt.{uid}.dead-letter",
        )
        db.provision(s)
        created.extend([s.mysql_staging_database, s.mysql_warehouse_database])
        return s

    yield factory
    if os.environ.get("CQ_TEST_KEEP_DATABASES"):
        return
    with db.connection(base_settings, role="admin", autocommit=True) as conn, conn.cursor() as cur:
        for name in created:
            cur.execute(f"drop database if exists `{name}`")


@pytest.fixture(scope="session")
def settings(make_settings) -> Settings:
    """Isolated settings shared by the whole session (one staging + warehouse pair)."""
    return make_settings("s")
