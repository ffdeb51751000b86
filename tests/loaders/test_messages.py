"""Message encoding round trip and the reasons a consumer refuses a message."""

from __future__ import annotations

import json

import pytest

from loaders.messages import BadMessage, decode_kline, decode_news, encode_kline, kline_key

CANDLE = {"symbol": "BTCUSDT", "interval_code": "1h", "open_time_ms": 1672531200000,
          "close_time_ms": 1672534799999, "open": 16541.77, "high": 16545.7, "low": 16508.39,
          "close": 16529.67, "volume": 4364.8357, "quote_volume": 72146293.5867229,
          "trade_count": 149854, "taker_buy_base_volume": 2179.94772,
          "taker_buy_quote_volume": 36032352.8703572}
KNOWN = frozenset({"BTCUSDT", "ETHUSDT", "BNBUSDT"})


def test_round_trip_keeps_every_field():
    raw = encode_kline(CANDLE, "replay")
    row = decode_kline(raw, KNOWN)
    assert kline_key("BTCUSDT", "1h") == b"BTCUSDT|1h"
    assert row["open_time"].isoformat() == "2023-01-01T00:00:00"
    assert row["close_time"].isoformat() == "2023-01-01T00:59:59.999000"
    for key in ("open", "high", "low", "close", "volume", "quote_volume", "trade_count"):
        assert row[key] == CANDLE[key]
    assert row["source"] == "replay" and row["schema_version"] == 1
    body = json.loads(raw)
    assert body["ingested_at"].endswith("Z")


def _msg(**changes):
    body = json.loads(encode_kline(CANDLE, "replay"))
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body).encode()


MALFORMED = [
    (b"not json at all", "not JSON"),
    (b"[1, 2, 3]", "JSON value must be an object"),
    (None, "empty message"),
    (_msg(schema_version=99), "unsupported schema_version 99"),
    (_msg(close=...), "missing field 'close'"),
    (_msg(open="twelve"), "field 'open' is not a number"),
    (_msg(high=16000.0), "high 16000.0 is below low 16508.39"),
    (_msg(volume=-1.0), "volume must not be negative"),
    (_msg(low=-5.0), "low must be positive"),
    (_msg(interval="7h"), "unknown interval '7h'"),
    (_msg(symbol="DOGEUSDT"), "unknown symbol 'DOGEUSDT'"),
    (_msg(symbol="btc; drop table"), "malformed symbol"),
    (_msg(open_time=1672531200000 + 1800000), "not aligned to the 1h interval"),
    (_msg(open_time="yesterday"), "must be epoch milliseconds"),
    (_msg(close_time=1672531200000), "close_time 1672531200000 is not after open_time"),
    (_msg(trade_count=-3), "'trade_count' must be a non-negative integer"),
    (_msg(ingested_at="soon"), "'ingested_at' is not an ISO timestamp"),
]


@pytest.mark.parametrize(("raw", "reason"), MALFORMED)
def test_malformed_klines_are_refused_with_a_reason(raw, reason):
    with pytest.raises(BadMessage, match=reason.replace("(", r"\(")):
        decode_kline(raw, KNOWN)


def test_news_needs_a_sha256_id():
    body = {"schema_version": 1, "source": "crawler", "ingested_at": "2024-01-01T00:00:00Z",
            "article_id": "abc", "url": "https://x", "title": "t",
            "published_at": "2024-01-01T00:00:00"}
    with pytest.raises(BadMessage, match="sha256"):
        decode_news(json.dumps(body).encode())
