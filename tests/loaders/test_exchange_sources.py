"""Backfill and live producers against the loopback exchange (Binance's REST and WebSocket
protocols, recorded real candles)."""

from __future__ import annotations

import threading

import pytest

from loaders.loopback_exchange import LoopbackExchange, candles_from_frame
from loaders.sources.backfill import ExchangeError, RestBackfill
from loaders.sources.live import LiveStream
from tests.support.sample import read_sample

HOUR = 3_600_000


@pytest.fixture(scope="module")
def btc():
    df = read_sample("BTCUSDT").head(2600)  # crosses the 1000-candle page limit twice
    return candles_from_frame(df, "BTCUSDT", "1h")


@pytest.fixture
def exchange(btc):
    # "now" is in the middle of the last candle: it is still open.
    with LoopbackExchange({"BTCUSDT": btc}, now_ms=btc[-1]["open_time_ms"] + HOUR // 2) as ex:
        yield ex


@pytest.fixture
def ex_settings(base_settings, exchange):
    return base_settings.replace(binance_api_url=exchange.rest_url, binance_ws_url=exchange.ws_url)


def test_backfill_paginates_and_skips_the_open_candle(ex_settings, exchange, btc):
    source = RestBackfill(ex_settings, "BTCUSDT", "1h", btc[0]["open_time_ms"],
                          now_ms=lambda: exchange.now_ms)
    got = list(source.candles())
    assert [c["open_time_ms"] for c in got] == [c["open_time_ms"] for c in btc[:-1]]
    assert got[5]["close"] == btc[5]["close"]
    klines_calls = [r for r in exchange.requests if r["path"] == "/api/v3/klines"]
    assert len(klines_calls) == 3
    assert {r["query"]["limit"][0] for r in klines_calls} == {"1000"}


def test_backfill_backs_off_on_429_and_honours_retry_after(ex_settings, exchange, btc):
    waits = []
    exchange.fail_next(429, times=2, retry_after=7)
    source = RestBackfill(ex_settings, "BTCUSDT", "1h", btc[0]["open_time_ms"],
                          btc[10]["open_time_ms"], now_ms=lambda: exchange.now_ms,
                          sleep=waits.append)
    got = list(source.candles())
    assert len(got) == 11
    assert waits == [7.0, 7.0] and source.retries == 2


def test_backfill_retries_5xx_with_exponential_backoff(ex_settings, exchange, btc):
    waits = []
    exchange.fail_next(503, times=3)
    source = RestBackfill(ex_settings, "BTCUSDT", "1h", btc[0]["open_time_ms"],
                          btc[3]["open_time_ms"], now_ms=lambda: exchange.now_ms,
                          sleep=waits.append, backoff_seconds=0.5)
    assert len(list(source.candles())) == 4
    assert waits == [0.5, 1.0, 2.0]


def test_backfill_gives_a_clear_error_on_other_4xx(ex_settings, exchange):
    source = RestBackfill(ex_settings, "DOGEUSDT", "1h", 0, now_ms=lambda: exchange.now_ms)
    with pytest.raises(ExchangeError, match="Binance answered 400 .*Invalid symbol"):
        list(source.candles())


def test_live_publishes_closed_candles_and_fills_a_dropped_connection_through_rest(
        ex_settings, exchange, btc):
    # The series has landed up to candle 2500; candles 2501..2503 are on the exchange already.
    exchange.now_ms = btc[2503]["close_time_ms"] + 1
    stream = LiveStream(ex_settings, ["BTCUSDT"], "1h",
                        start_after_ms={"BTCUSDT": btc[2500]["open_time_ms"]},
                        stop=threading.Event(), now_ms=lambda: exchange.now_ms,
                        sleep=lambda s: None)
    gen = stream.candles()
    got = [next(gen) for _ in range(3)]  # catch-up through REST on connect
    assert [c["open_time_ms"] for c in got] == [btc[i]["open_time_ms"] for i in (2501, 2502, 2503)]

    exchange.wait_for_connections(1)
    exchange.push(btc[2504], closed=False)  # still open: must not be published
    exchange.push(btc[2504], closed=True)
    candle = next(gen)
    assert candle["open_time_ms"] == btc[2504]["open_time_ms"]
    assert candle["close"] == pytest.approx(btc[2504]["close"])

    # The connection drops while two candles close; the stream reconnects and fills them.
    exchange.now_ms = btc[2506]["close_time_ms"] + 1
    exchange.drop_connections()
    refill = [next(gen), next(gen)]
    assert [c["open_time_ms"] for c in refill] == [btc[i]["open_time_ms"] for i in (2505, 2506)]
    assert stream.reconnects == 1 and stream.gap_filled == 5

    exchange.wait_for_connections(2)
    exchange.push(btc[2506], closed=True)  # a duplicate of a filled candle: skipped
    exchange.push_raw("{not json")  # a garbled frame: skipped, the stream goes on
    exchange.push_raw('{"data": {"e": "kline", "k": {"x": true}}}')  # closed, but no fields
    exchange.push(btc[2508], closed=True)  # 2507 never came through the stream
    exchange.now_ms = btc[2508]["close_time_ms"] + 1
    tail = [next(gen), next(gen)]
    assert [c["open_time_ms"] for c in tail] == [btc[i]["open_time_ms"] for i in (2507, 2508)]
    stream.stop.set()
    gen.close()
