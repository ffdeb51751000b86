"""The short-lived response cache: same URL answered from memory, errors never cached."""

from __future__ import annotations

from api import create_app
from cryptoquant import db


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
