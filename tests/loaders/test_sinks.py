"""KlineSink against the real database: a batch reduced to the last message per key, the
bulk load and its multi-row fallback landing the same rows, text fields escaped."""

from __future__ import annotations

import json

import pymysql
import pytest

from cryptoquant import db
from loaders.messages import BadMessage, encode_kline
from loaders.sinks import KlineSink
from tests.loaders.conftest import rows
from tests.loaders.test_messages import CANDLE

HOUR = 3_600_000
COLUMNS = ("symbol, interval_code, open_time, close_time, open, high, low, close, volume, "
           "quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume, source, "
           "schema_version, ingested_at, kafka_partition, kafka_offset")


def candle(hour: int = 0, **changes) -> dict:
    return dict(CANDLE, open_time_ms=CANDLE["open_time_ms"] + hour * HOUR,
                close_time_ms=CANDLE["close_time_ms"] + hour * HOUR, **changes)


def write(settings, sink: KlineSink, batch: list[tuple]) -> None:
    with db.staging(settings) as conn:
        with conn.cursor() as cur:
            sink.write(cur, batch)
        conn.commit()


def landed(settings) -> list[tuple]:
    return rows(settings, f"select {COLUMNS} from raw_klines order by open_time")


def test_later_message_in_one_batch_wins(fresh):
    sink = KlineSink(fresh)
    first = sink.decode(encode_kline(candle(close=16530.0), "replay"))
    other = sink.decode(encode_kline(candle(1), "replay"))
    second = sink.decode(encode_kline(candle(close=16531.5, high=16600.0), "backfill"))
    write(fresh, sink, [(first, 0, 10), (other, 0, 11), (second, 0, 12)])
    got = landed(fresh)
    assert len(got) == 2
    assert float(got[0][7]) == 16531.5 and float(got[0][5]) == 16600.0
    assert got[0][13] == "backfill" and got[0][-1] == 12
    # the batch again, then the first version alone: later messages keep winning
    write(fresh, sink, [(first, 0, 10), (other, 0, 11), (second, 0, 12)])
    write(fresh, sink, [(first, 0, 13)])
    got = landed(fresh)
    assert len(got) == 2 and float(got[0][7]) == 16530.0 and got[0][-1] == 13


def test_bulk_load_and_multi_row_fallback_land_identical_rows(make_settings):
    odd = [candle(0), candle(1, quote_volume=None, trade_count=None,
                            taker_buy_base_volume=float("nan")),
           candle(2, open=0.00001234, low=0.00001, high=1e-4, close=5e-5, volume=0.0),
           # exponents as JSON and repr write them: both must reach the same decimals
           candle(3, open=1.5e-7, low=1e-7, high=2e-7, close=1.25e-7, volume=1.2345e16,
                  quote_volume=3e20, taker_buy_base_volume=1e-10)]
    results = []
    for bulk in (True, False):
        s = make_settings("sk")
        sink = KlineSink(s, bulk=bulk)
        batch = [(sink.decode(encode_kline(c, "re\tpl\\ay", "2024-01-01T00:00:00.123Z")), 1, i)
                 for i, c in enumerate(odd)]
        write(s, sink, batch)
        results.append(landed(s))
    assert results[0] == results[1]
    first = results[0][0]
    assert first[2].isoformat() == "2023-01-01T00:00:00"
    assert first[3].isoformat() == "2023-01-01T00:59:59.999000"
    assert str(first[4]) == "16541.7700000000" and str(first[9]) == "72146293.5867229000"
    assert first[13] == "re\tpl\\ay" and first[15].isoformat() == "2024-01-01T00:00:00.123000"
    assert results[0][1][9:12] == (None, None, None)
    assert str(results[0][2][4]) == "0.0000123400"
    assert [f"{v:f}" for v in (*results[0][3][4:10], results[0][3][11])] == [
        "0.0000001500", "0.0000002000", "0.0000001000", "0.0000001250",
        "12345000000000000.0000000000", "300000000000000000000.0000000000", "0.0000000001"]


def test_messages_only_the_full_decoder_accepts_land_like_the_others(fresh):
    sink = KlineSink(fresh)
    plain = json.loads(encode_kline(candle(), "replay", "2024-01-01T00:00:00Z"))
    tolerated = dict(plain, open=str(plain["open"]), open_time=float(plain["open_time"]),
                     ingested_at="2024-01-01T01:00:00+01:00")
    assert sink.decode(json.dumps(tolerated).encode()) == sink.decode(json.dumps(plain).encode())
    with pytest.raises(BadMessage, match="unknown symbol"):
        sink.decode(json.dumps(dict(plain, symbol="DOGEUSDT")).encode())


class RefusingCursor:
    """A cursor whose server refuses LOAD DATA LOCAL, as MySQL 8 does by default."""

    def __init__(self, cur):
        self.cur = cur

    def execute(self, sql, args=None):
        if sql.startswith("load data local"):
            raise pymysql.err.OperationalError(1148, "The used command is not allowed")
        return self.cur.execute(sql, args)

    def executemany(self, sql, args):
        return self.cur.executemany(sql, args)


def test_refused_bulk_load_falls_back_to_inserts(fresh, caplog):
    sink = KlineSink(fresh)
    batch = [(sink.decode(encode_kline(candle(h), "replay")), 0, h) for h in range(3)]
    with db.staging(fresh) as conn:
        with conn.cursor() as cur:
            sink.write(RefusingCursor(cur), batch)
        conn.commit()
    assert sink.bulk is False and "LOAD DATA LOCAL refused" in caplog.text
    assert len(landed(fresh)) == 3


@pytest.mark.parametrize("bulk", [True, False])
def test_a_price_too_large_for_the_column_fails_the_batch_instead_of_being_clamped(fresh, bulk):
    sink = KlineSink(fresh, bulk=bulk)
    huge = candle(0, open=2e18, high=3e18, low=1e18, close=2e18)
    batch = [(sink.decode(encode_kline(candle(1), "replay")), 0, 0),
             (sink.decode(encode_kline(huge, "replay")), 0, 1)]
    with db.staging(fresh) as conn:
        with conn.cursor() as cur, pytest.raises(pymysql.err.MySQLError, match="Out of range"):
            sink.write(cur, batch)
        conn.rollback()
    assert landed(fresh) == []


def test_the_largest_batch_the_cli_allows_fits_the_memory_batch_table(fresh):
    sink = KlineSink(fresh)
    one = sink.decode(encode_kline(candle(), "replay"))
    batch = [((one[0], one[1], one[2] + h * HOUR, one[3] + h * HOUR, *one[4:]), 0, h)
             for h in range(100_000)]
    write(fresh, sink, batch)
    assert rows(fresh, "select count(*) from raw_klines") == [(100_000,)]


def test_a_batch_mixing_new_and_landed_candles_updates_and_inserts(fresh):
    sink = KlineSink(fresh)
    write(fresh, sink, [(sink.decode(encode_kline(candle(0), "replay")), 0, 0)])
    mixed = [(sink.decode(encode_kline(candle(0, close=16540.0), "backfill")), 0, 1),
             (sink.decode(encode_kline(candle(1), "replay")), 0, 2)]
    write(fresh, sink, mixed)  # LOAD DATA straight in would skip hour 0: it must not
    got = landed(fresh)
    assert [(float(r[7]), r[13], r[-1]) for r in got] == [(16540.0, "backfill", 1),
                                                          (16529.67, "replay", 2)]


def test_batch_decode_gives_the_rows_and_reasons_of_decoding_one_by_one(fresh):
    """A mixed batch: good candles, every malformed kind, shapes only decode_kline accepts."""
    from tests.loaders.test_messages import EDGES, MALFORMED, _msg

    sink = KlineSink(fresh)
    batch = [encode_kline(candle(0), "replay"), *[raw for raw, _ in MALFORMED],
             _msg(open="16541.77"), _msg(open_time=1672531200000.0), *EDGES,
             _msg(ingested_at="2024-01-01T01:00:00+01:00"), encode_kline(candle(1), "live")]

    def one_by_one(raw):
        try:
            return sink.decode(raw)
        except BadMessage as exc:
            return exc

    expected = [one_by_one(raw) for raw in batch]
    got = sink.decode_batch(batch)
    assert [str(r) if isinstance(r, BadMessage) else r for r in got] == [
        str(r) if isinstance(r, BadMessage) else r for r in expected]
    assert [type(r) for r in got] == [type(r) for r in expected]
    refused = [str(r) for r in got if isinstance(r, BadMessage)]
    assert len(refused) >= len(MALFORMED)
    assert all(any(reason in text for text in refused) for _, reason in MALFORMED)
    assert got[-1][13] == "live" and got[-2][15] == "2024-01-01 00:00:00"
