"""The JSON API against the fixture warehouse, through Flask's test client."""

from __future__ import annotations

import pymysql
import pytest

from api.db import get_db
from tests.api import fixture_warehouse


def test_symbols_and_intervals(client):
    symbols = client.get("/api/symbols").get_json()["symbols"]
    assert [s["symbol"] for s in symbols] == sorted(fixture_warehouse.SYMBOLS)
    assert symbols[0]["quote_asset"] == "USDT"
    intervals = client.get("/api/intervals").get_json()["intervals"]
    assert intervals[0] == {"interval": "1h", "seconds": 3600}


def test_klines_newest_in_range_oldest_first_with_indicators(client):
    body = client.get("/api/klines?symbol=btcusdt&interval=1h&start=2022-01-10"
                      "&end=2022-01-11T00:00:00Z&limit=5&indicators=ema_12,rsi_14").get_json()
    times = [k["open_time"] for k in body["klines"]]
    assert times == [f"2022-01-10T{h}:00:00" for h in range(19, 24)]
    assert body["indicators"] == ["ema_12", "rsi_14"]
    first = body["klines"][0]
    assert set(first["indicators"]) == {"ema_12", "rsi_14"}
    assert 0 < first["indicators"]["rsi_14"] < 100
    assert first["low"] <= min(first["open"], first["close"]) <= first["high"]


def test_klines_values_match_the_source(client):
    frame = fixture_warehouse.read_sample("ETHUSDT", fixture_warehouse.START,
                                          fixture_warehouse.END)
    body = client.get("/api/klines?symbol=ETHUSDT&limit=3&indicators=none").get_json()
    assert [k["close"] for k in body["klines"]] == pytest.approx(frame.close.tail(3).tolist())
    assert all(k["indicators"] == {} for k in body["klines"])


def test_klines_indicators_all_and_default(client):
    everything = client.get("/api/klines?symbol=BTCUSDT&limit=1&indicators=all").get_json()
    assert set(everything["indicators"]) == set(fixture_warehouse.INDICATORS)
    default = client.get("/api/klines?symbol=BTCUSDT&limit=1").get_json()
    assert "ema_12" in default["indicators"] and "atr_14" not in default["indicators"]


def test_latest_signals_per_symbol_with_guards_and_reasons(client):
    body = client.get("/api/signals/latest?interval=1h&limit=2").get_json()
    assert body["count"] == 6
    assert [s["symbol_code"] for s in body["signals"]] == ["BNBUSDT"] * 2 + ["BTCUSDT"] * 2 + [
        "ETHUSDT"] * 2
    first = body["signals"][0]
    assert first["open_time"] == "2022-01-31T23:00:00"
    assert set(first["guards"]) == {"conflict", "weak_edge", "outside_confidence_band",
                                    "no_trade"}
    guards = [g for s in body["signals"] for g in s["guards"].values()]
    assert all(g["reason"] for g in guards if g["active"])
    assert any(g["active"] for g in guards)
    assert first["action"] in {"LONG", "SHORT", "NO_TRADE"} and first["action_reason"]
    one = client.get("/api/signals/latest?symbol=ETHUSDT").get_json()
    assert [s["symbol_code"] for s in one["signals"]] == ["ETHUSDT"]


def test_trades_filter_by_outcome_and_time(client):
    body = client.get("/api/trades?symbol=BTCUSDT&outcome=win&start=2022-01-15"
                      "&end=2022-01-20&limit=1000").get_json()
    assert body["count"] > 0
    assert {t["outcome"] for t in body["trades"]} == {"WIN"}
    assert all("2022-01-15" <= t["entry_time"] < "2022-01-20" for t in body["trades"])
    assert all(t["pnl_pct"] > 0 for t in body["trades"])


def test_equity_scopes_and_max_drawdown(client):
    overall = client.get("/api/equity").get_json()
    btc = client.get("/api/equity?symbol=BTCUSDT").get_json()
    assert overall["scope"] == "ALL" and btc["scope"] == "BTCUSDT"
    assert overall["count"] > btc["count"] > 0
    assert overall["max_drawdown_pct"] == min(r["drawdown_pct"] for r in overall["equity"])
    assert all(r["equity"] <= r["peak_equity"] + 1e-9 for r in btc["equity"])


def test_rolling_performance(client):
    body = client.get("/api/performance/rolling?symbol=ETHUSDT&limit=60").get_json()
    assert body["count"] == 60
    assert all(0 <= r["rolling_win_rate"] <= 1 for r in body["rolling"])
    assert body["rolling"][-1]["window_trades"] == 50


def test_regimes_and_regression(client):
    regimes = client.get("/api/regimes?symbol=BNBUSDT&limit=24").get_json()
    assert regimes["count"] == 24 and regimes["regimes"][-1]["open_time"] == "2022-01-31T23:00:00"
    reg = client.get("/api/regression?symbol=BNBUSDT&limit=10").get_json()
    assert reg["count"] == 10
    assert all(r["lower_band"] <= r["fitted_close"] <= r["upper_band"] for r in reg["regression"])
    assert all(r["close"] > 0 for r in reg["regression"])


def test_rules_filter_by_significance(client):
    every = client.get("/api/rules").get_json()
    significant = client.get("/api/rules?significant=true").get_json()
    other = client.get("/api/rules?significant=false").get_json()
    assert every["count"] == significant["count"] + other["count"] == 40
    assert significant["count"] > 0
    assert all(r["is_significant"] for r in significant["rules"])
    assert not any(r["is_significant"] for r in other["rules"])
    assert significant["rules"][0]["consequent"] == ["outcome=WIN"]
    lifts = [r["lift"] for r in every["rules"]]
    assert lifts == sorted(lifts, reverse=True)


def test_freshness(client):
    body = client.get("/api/freshness").get_json()
    assert {s["symbol_code"] for s in body["series"]} == set(fixture_warehouse.SYMBOLS)
    assert all(s["last_open_time"] == "2022-01-31T23:00:00" for s in body["series"])
    run = body["last_pipeline_run"]
    assert run["status"] == "success" and [s["step"] for s in run["steps"]] == [
        "dbt_base", "dbt_marts"]


BAD_REQUESTS = [
    ("/api/klines", "required"),
    ("/api/klines?symbol=DOGEUSDT", "unknown symbol"),
    ("/api/klines?symbol=BTCUSDT%27%20OR%20%271%27=%271", "unknown symbol"),
    ("/api/klines?symbol=BTCUSDT;DROP%20TABLE%20fact_kline", "unknown symbol"),
    ("/api/klines?symbol=BTCUSDT&interval=1h%20--", "unknown interval"),
    ("/api/klines?symbol=BTCUSDT&interval=7m", "unknown interval"),
    ("/api/klines?symbol=BTCUSDT&start=yesterday", "ISO 8601"),
    ("/api/klines?symbol=BTCUSDT&end=2022-13-45", "ISO 8601"),
    ("/api/klines?symbol=BTCUSDT&start=1850-01-01", "between"),
    ("/api/klines?symbol=BTCUSDT&start=2022-02-01&end=2022-01-01", "before"),
    ("/api/klines?symbol=BTCUSDT&limit=0", "between 1 and 5000"),
    ("/api/klines?symbol=BTCUSDT&limit=5001", "between 1 and 5000"),
    ("/api/klines?symbol=BTCUSDT&limit=-1", "whole number"),
    ("/api/klines?symbol=BTCUSDT&limit=10%20or%201=1", "whole number"),
    ("/api/klines?symbol=BTCUSDT&indicators=rsi_14,sleep(5)", "unknown indicator"),
    ("/api/trades?symbol=BTCUSDT&outcome=WIN%27--", "outcome"),
    ("/api/rules?significant=maybe", "true or false"),
    ("/api/signals/latest?limit=501", "between 1 and 500"),
    ("/api/equity?symbol=" + "A" * 300, "too long"),
]


@pytest.mark.parametrize(("url", "message"), BAD_REQUESTS)
def test_bad_input_is_a_400_json_error(client, url, message):
    response = client.get(url)
    assert response.status_code == 400
    assert response.is_json
    assert message in response.get_json()["error"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_unknown_path_and_method_are_json(client):
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and "error" in missing.get_json()
    post = client.post("/api/symbols")
    assert post.status_code == 405 and "error" in post.get_json()


def test_connection_is_read_only(app):
    with app.app_context():
        conn = get_db()
        with pytest.raises(pymysql.err.OperationalError), conn.cursor() as cur:
            cur.execute("delete from dim_symbol")
        with conn.cursor() as cur:
            cur.execute("select current_user() as who")
            assert cur.fetchone()["who"].startswith(app.config["CQ_SETTINGS"].mysql_readonly_user)


def test_missing_mart_is_a_503_json_error(app, client):
    with app.app_context():
        settings = app.config["CQ_SETTINGS"]
    from cryptoquant import db

    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("rename table fp_growth_win_rules to fp_growth_win_rules_away")
    try:
        response = client.get("/api/rules")
    finally:
        with db.warehouse(settings) as conn, conn.cursor() as cur:
            cur.execute("rename table fp_growth_win_rules_away to fp_growth_win_rules")
    assert response.status_code == 503
    assert "not built yet" in response.get_json()["error"]


def test_openapi_document_lists_every_api_route(app, client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.0")
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert routes == set(doc["paths"])
