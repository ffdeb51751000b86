"""API fixtures: one isolated warehouse per session, the app and its test client."""

from __future__ import annotations

import pytest

from api import create_app
from tests.api import fixture_warehouse


@pytest.fixture(scope="session")
def api_settings(make_settings):
    settings = make_settings("api")
    fixture_warehouse.build(settings)
    return settings


@pytest.fixture(scope="session")
def app(api_settings):
    # No response cache: tests change the warehouse under the app (test_cache covers it).
    return create_app({"CQ_SETTINGS": api_settings, "TESTING": True,
                       "RESPONSE_CACHE_SECONDS": 0})


@pytest.fixture
def client(app):
    return app.test_client()
