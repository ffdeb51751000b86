"""Spark fixtures: ONE Spark session for the whole test session (start-up costs 10-20 s).

The session is created through ``spark.session.get_spark`` before the first Spark test in this
folder runs, so every Spark test (``getOrCreate`` elsewhere included) shares a session that has
the MariaDB JDBC jar and runs in UTC.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from cryptoquant.config import load_settings
    from spark.session import get_spark

    session = get_spark(load_settings(), "cq-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _spark_session_first(request):
    """Create the configured session before any test marked ``spark`` asks for its own."""
    if any(item.get_closest_marker("spark") for item in request.session.items):
        request.getfixturevalue("spark")
