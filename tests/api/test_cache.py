"""The short-lived response cache: same URL answered from memory, errors never cached."""

from __future__ import annotations

import datetime as dt
import uuid

from api import create_app
from cryptoquant import db
from cryptoquant.pipeline import record_run


def test_cached_answer_survives_a_warehouse_change_until_it_expires(api_settings):
    app = create_app({"CQ_SETTINGS": api_settings, "RESPONSE_CACHE_SECONDS": 3600})
    client = app.test_client()
    first = client.get("/api/klines?symbol=BTCUSDT&limit=1")
    assert first.headers["X-Cache"] == "miss"
    with db.warehouse(api_settings) as conn, conn.cursor() as cur:
        cur.execute("rename table fact_kline to fact_kline_away")
    try:
        again = client.get("/api/klines?symbol=BTCUSDT&limit=1")
        other = client.get("/api/klines?symbol=BTCUSDT&limit=2")  # another URL: not cached
    finally:
        with db.warehouse(api_settings) as conn, conn.cursor() as cur:
            cur.execute("rename table fact_kline_away to fact_kline")
    assert again.headers["X-Cache"] == "hit" and again.get_json() == first.get_json()
    assert other.status_code == 503
    bad = client.get("/api/klines?symbol=NOPE")
    assert bad.status_code == 400 and "X-Cache" not in bad.headers
    assert "X-Cache" not in client.get("/api/klines?symbol=NOPE").headers


def test_cache_off_with_zero_seconds(api_settings):
    client = create_app({"CQ_SETTINGS": api_settings, "RESPONSE_CACHE_SECONDS": 0}).test_client()
    assert "X-Cache" not in client.get("/api/symbols").headers


def test_a_finished_pipeline_step_clears_the_cache(api_settings, make_settings):
    """A refresh recorded in pipeline_runs ends the cached answers at once (not after the TTL),
    so a live round's prediction is served as soon as it is made."""
    # a staging database of its own: the session's is read by the freshness test
    settings = api_settings.replace(
        mysql_staging_database=make_settings("cache").mysql_staging_database)
    app = create_app({"CQ_SETTINGS": settings, "RESPONSE_CACHE_SECONDS": 3600,
                      "RESPONSE_CACHE_CHECK_SECONDS": 0})
    client = app.test_client()
    url = "/api/klines?symbol=BTCUSDT&limit=1"
    assert client.get(url).headers["X-Cache"] == "miss"
    assert client.get(url).headers["X-Cache"] == "hit"
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    record_run(settings, f"cache-test-{uuid.uuid4().hex[:8]}", "live_refresh", "running", "",
               started)
    assert client.get(url).headers["X-Cache"] == "hit"  # still running: nothing changed yet
    record_run(settings, f"cache-test-{uuid.uuid4().hex[:8]}", "live_refresh", "success", "{}",
               started)
    assert client.get(url).headers["X-Cache"] == "miss"
    assert client.get(url).headers["X-Cache"] == "hit"


def test_cache_keeps_serving_when_pipeline_runs_is_unreadable(api_settings):
    """No staging table to probe: the answers still come from memory until their TTL."""
    settings = api_settings.replace(mysql_staging_database="cq_no_such_staging_db")
    client = create_app({"CQ_SETTINGS": settings, "RESPONSE_CACHE_SECONDS": 3600,
                         "RESPONSE_CACHE_CHECK_SECONDS": 0}).test_client()
    url = "/api/klines?symbol=BTCUSDT&limit=1"
    assert client.get(url).headers["X-Cache"] == "miss"
    assert client.get(url).headers["X-Cache"] == "hit"
