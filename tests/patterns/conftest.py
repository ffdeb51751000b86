"""Fixtures of the pattern-mining tests: the (shared) Spark session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fp_spark():
    """The test session's Spark session, made by the job's own ``get_spark`` (JDBC jar, UTC);
    ``getOrCreate`` shares it with every other Spark test of the session."""
    from cryptoquant.config import load_settings
    from spark.session import get_spark

    return get_spark(load_settings(), "cq-tests")
