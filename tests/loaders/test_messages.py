"""Message encoding round trip and the reasons a consumer refuses a message."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.messages import (
    BadMessage,
    _fast_row,
    decode_kline,
    decode_news,
    encode_kline,
    fast_kline,
    fast_klines,
    kline_key,
)

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


# The fast path (msgspec, typed) must agree with decode_kline: never accept what it refuses,
# and read the same values from what both accept.

def test_fast_path_reads_what_decode_kline_reads():
    raw = encode_kline(CANDLE, "replay")
    fast, ingested_at = fast_kline(raw, KNOWN)
    row = decode_kline(raw, KNOWN)
    assert ingested_at == row["ingested_at"].isoformat(sep=" ")
    for key in ("open", "high", "low", "close", "volume", "quote_volume", "trade_count",
                "taker_buy_base_volume", "taker_buy_quote_volume", "source", "symbol"):
        assert getattr(fast, key) == row[key], key
    assert fast.open_time == CANDLE["open_time_ms"] and fast.interval == row["interval_code"]


@pytest.mark.parametrize(("raw", "reason"), MALFORMED)
def test_fast_path_refuses_every_malformed_message(raw, reason):
    assert fast_kline(raw, KNOWN) is None


@pytest.mark.parametrize("change", [
    {"open": "16541.77"},                 # a number as a string
    {"open_time": 1672531200000.0},       # integral float milliseconds
    {"ingested_at": "2024-01-01T01:00:00+01:00"},
    {"trade_count": ...},                 # optional field absent
    {"quote_volume": None},
])
def test_shapes_only_decode_kline_accepts_are_still_landed(change):
    raw = _msg(**change)
    row = decode_kline(raw, KNOWN)  # accepted, so the fast path must agree or step aside
    fast = fast_kline(raw, KNOWN)
    if fast is not None:
        assert fast[0].open == row["open"] and fast[1] == row["ingested_at"].isoformat(sep=" ")


finite = st.floats(min_value=1e-8, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(o=finite, h=finite, lo=finite, c=finite, v=st.floats(allow_nan=True),
       q=st.one_of(st.none(), st.floats()), count=st.one_of(st.none(), st.integers(-5, 10**12)),
       shift=st.integers(-10**13, 10**13))
def test_fast_and_full_decoders_agree(o, h, lo, c, v, q, count, shift):
    body = json.loads(encode_kline(CANDLE, "replay"))
    body.update(open=o, high=h, low=lo, close=c, volume=v, quote_volume=q, trade_count=count,
                open_time=CANDLE["open_time_ms"] + shift,
                close_time=CANDLE["open_time_ms"] + shift + 3_599_999)
    raw = json.dumps(body).encode()  # json writes NaN/Infinity, which only json.loads reads
    fast = fast_kline(raw, KNOWN)
    try:
        row = decode_kline(raw, KNOWN)
    except BadMessage:
        assert fast is None
        return
    except OverflowError:  # decode_kline's datetime limit; the fast path leaves it to it
        assert fast is None
        return
    if fast is not None:
        m, ingested_at = fast
        assert (m.open, m.high, m.low, m.close, m.volume, m.quote_volume, m.trade_count) == (
            row["open"], row["high"], row["low"], row["close"], row["volume"],
            row["quote_volume"], row["trade_count"])
        assert m.open_time == body["open_time"] and ingested_at == str(row["ingested_at"])


# The batch checks (fast_klines) must give, message by message, what fast_kline gives.

EDGES = [
    _msg(open_time=2**70),                        # beyond 64 bits
    _msg(trade_count=2**63 + 5),
    _msg(quote_volume=1e999),                     # infinite once read
    _msg(source="x" * 17),
    _msg(source=""),
    _msg(ingested_at="2024-01-01T00:00:00" + "0" * 1100),
    _msg(symbol="BTCUSDt"),
    _msg(interval="1h", open_time=1672531200000 + 60000),
    _msg(close_time=2**62),
    _msg(schema_version=True),
    b"",
]


def _per_message(raws):
    return [_fast_row(raw, KNOWN) for raw in raws]


def test_batch_checks_answer_each_message_as_the_single_message_path():
    good = [encode_kline(dict(CANDLE, close=16530.0 + i), "replay") for i in range(3)]
    batch = [good[0], *[raw for raw, _ in MALFORMED], good[1], *EDGES, good[2]]
    answers = fast_klines(batch, KNOWN)
    assert answers == _per_message(batch)
    assert [a is not None for a in answers].count(True) >= 3
    assert answers[0][6] == CANDLE["low"] and answers[-1][7] == 16532.0
    # a batch holding one message beyond 64 bits is answered message by message, the same
    assert fast_klines([good[0], EDGES[0], good[1]], KNOWN) == _per_message(
        [good[0], EDGES[0], good[1]])
    assert fast_klines([], KNOWN) == [] and fast_klines([None, b"{}"], KNOWN) == [None, None]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "o": finite, "h": finite, "lo": finite, "c": finite, "v": st.floats(allow_nan=True),
    "q": st.one_of(st.none(), st.floats()), "count": st.one_of(st.none(), st.integers(-5, 10**12)),
    "shift": st.integers(-10**13, 10**13), "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "X"]),
    "interval": st.sampled_from(["1h", "1m", "7h"])}), min_size=1, max_size=12))
def test_batch_and_single_message_checks_agree(candles):
    raws = []
    for k in candles:
        body = json.loads(encode_kline(CANDLE, "replay"))
        body.update(open=k["o"], high=k["h"], low=k["lo"], close=k["c"], volume=k["v"],
                    quote_volume=k["q"], trade_count=k["count"], symbol=k["symbol"],
                    interval=k["interval"], open_time=CANDLE["open_time_ms"] + k["shift"],
                    close_time=CANDLE["open_time_ms"] + k["shift"] + 3_599_999)
        raws.append(json.dumps(body).encode())
    assert fast_klines(raws, KNOWN) == _per_message(raws)


def test_times_beyond_datetime_are_refused_not_raised():
    """A poison message once stopped the consumer with an OverflowError; now a dead letter."""
    with pytest.raises(BadMessage, match="epoch milliseconds 4611686018427387904 out of range"):
        decode_kline(_msg(close_time=2**62), KNOWN)
