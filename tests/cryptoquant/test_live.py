"""The live refresh driver (cryptoquant/live.py) against the loopback exchange: a candle closed
on the WebSocket goes through the producer, Kafka, the consumer and one refresh round, and its
prediction becomes visible through the API."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from click.testing import CliRunner

from api import create_app
from cryptoquant import db
from cryptoquant.cli import main as cli_main
from cryptoquant.dbt import build_base, build_marts
from cryptoquant.live import LiveRefresh
from loaders.loopback_exchange import LoopbackExchange, candles_from_frame
from loaders.news_sentiment import run_step as news_sentiment
from spark.indicators.job import run_indicators
from tests.support.sample import land_klines, read_sample

pytestmark = [pytest.mark.integration, pytest.mark.spark]

# History landed before the start: longer than the indicators' warm-up (2,964 candles), so the
# round computes the series incrementally, as it does in production.
START, END = dt.datetime(2021, 9, 1), dt.datetime(2022, 2, 1)


def _poll(what: str, fn, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout:.0f}s")


def test_cli_help_describes_the_live_mode():
    result = CliRunner().invoke(cli_main, ["pipeline", "live", "--help"])
    assert result.exit_code == 0
    assert "fact_prediction" in result.output and "--ingest" in result.output


def test_a_candle_closed_on_the_websocket_becomes_a_prediction_in_the_api(make_settings):
    settings = make_settings("live").replace(symbols="BTCUSDT")
    land_klines(settings, symbols=("BTCUSDT",), start=START, end=END)
    candles = candles_from_frame(read_sample("BTCUSDT", START, END + dt.timedelta(hours=2)),
                                 "BTCUSDT", "1h")
    nxt = next(c for c in candles if c["open_time_ms"] == int(
        END.replace(tzinfo=dt.UTC).timestamp() * 1000))

    # "now" is inside the first candle after the history: it is still open.
    with LoopbackExchange({"BTCUSDT": candles}, now_ms=nxt["open_time_ms"] + 1) as exchange:
        s = settings.replace(binance_api_url=exchange.rest_url, binance_ws_url=exchange.ws_url)
        live = LiveRefresh(s, consume=True, ingest=True, poll_seconds=0.2,
                           source_kwargs={"now_ms": lambda: exchange.now_ms})
        with live:
            # The warehouse as the batch pipeline leaves it (its steps, on the warm session).
            news_sentiment(s)
            build_base(s)
            run_indicators(s, spark=live.spark)
            build_marts(s)
            catch_up = live.refresh_once(force=True)
            assert catch_up is not None and catch_up.number == 1

            runner = threading.Thread(target=live.run, kwargs={"max_rounds": 1}, daemon=True)
            runner.start()
            exchange.wait_for_connections(1)
            exchange.now_ms = nxt["close_time_ms"] + 1
            exchange.push(nxt, closed=False)  # an update of the open candle: not published
            exchange.push(nxt, closed=True)

            client = create_app({"CQ_SETTINGS": s, "TESTING": True,
                                 "RESPONSE_CACHE_SECONDS": 0}).test_client()

            def latest():
                body = client.get("/api/signals/latest?symbol=BTCUSDT&interval=1h").get_json()
                signals = body.get("signals") or [{}]
                return signals[0] if signals[0].get("open_time") == END.isoformat() else None

            signal = _poll("the pushed candle's prediction in the API", latest)
            runner.join(60)
            assert not runner.is_alive()

    assert signal["symbol_code"] == "BTCUSDT"
    assert signal["action"] in {"LONG", "SHORT", "NO_TRADE"}
    (round_,) = [r for r in live.rounds if r.number == 2]
    assert round_.new_candles == 1
    assert round_.indicators["incremental"] == ["BTCUSDT/1h"]
    with db.staging(s) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw_klines where open_time = %s and source = 'live'",
                    (END,))
        assert cur.fetchone()[0] == 1
        cur.execute("select status, detail from pipeline_runs where step = 'live_refresh' "
                    "order by started_at")
        runs = cur.fetchall()
    assert [r[0] for r in runs] == ["success", "success"]
    assert '"new_candles": 1' in runs[1][1]
    # The prediction was made from the candle's own indicators, not from a half-built row.
    with db.warehouse(s) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from fact_indicator where open_time = %s", (END,))
        assert cur.fetchone()[0] > 0
        cur.execute("select rsi_14, ema_12 from int_metric_inputs where open_time = %s", (END,))
        rsi, ema = cur.fetchone()
    assert rsi is not None and ema is not None
