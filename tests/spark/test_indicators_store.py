"""The indicator job's own tables (no Spark): the wide ``indicator_values`` (a row per candle, a
value and a gap-flag column per code, the computed_at index), the columns a new code gets, the
codes that cannot name a column, and the conversion of a table in the earlier long layout (one
row per value), which keeps every value and makes the next run a full recompute."""

from __future__ import annotations

import datetime as dt

import pytest

from cryptoquant import db
from spark.indicators import _store, load_config_csv
from spark.indicators.config import IndicatorSpec

SPECS = load_config_csv()
CODES = [s.code for s in SPECS]

# indicator_values as the job created it before the wide layout (what deployments still have).
LONG_DDL = """create table if not exists indicator_values (
    symbol            varchar(20) not null,
    interval_code     varchar(8)  not null,
    indicator_code    varchar(32) not null,
    open_time         datetime    not null,
    value             double      not null,
    is_gap_in_window  tinyint(1)  not null default 0,
    computed_at       datetime(3) not null,
    primary key (symbol, interval_code, indicator_code, open_time),
    key ix_indicator_values_computed_at (computed_at)
) engine = InnoDB default charset = utf8mb4"""


def columns(settings) -> list[str]:
    with db.staging(settings) as conn, conn.cursor() as cur:
        return _store._columns(cur, _store.VALUES_TABLE)


def indexes(settings) -> dict[str, list[str]]:
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select index_name, column_name from information_schema.statistics "
                    "where table_schema = database() and table_name = %s order by index_name, "
                    "seq_in_index", (_store.VALUES_TABLE,))
        out: dict[str, list[str]] = {}
        for name, column in cur.fetchall():
            out.setdefault(name, []).append(column)
        return out


def rows(settings, sql: str, args=None) -> list[tuple]:
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def test_wide_table_new_columns_and_codes_that_cannot_be_columns(make_settings):
    settings = make_settings("ind_store")
    _store.ensure_tables(settings, SPECS)
    _store.ensure_tables(settings, SPECS)  # and again: idempotent
    assert columns(settings) == ["symbol", "interval_code", "open_time", *CODES,
                                 *(f"is_gap_in_window__{c}" for c in CODES), "computed_at"]
    assert indexes(settings) == {"PRIMARY": ["symbol", "interval_code", "open_time"],
                                 _store.COMPUTED_AT_INDEX: ["computed_at"]}

    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("insert into indicator_values (symbol, interval_code, open_time, rsi_14, "
                    "computed_at) values ('ETHUSDT', '1h', '2022-01-01', 55.5, now(3))")
        conn.commit()
    ema_100 = IndicatorSpec("ema_100", "EMA", "real", timeperiod=100)
    _store.ensure_tables(settings, [s for s in SPECS if s.code != "obv"] + [ema_100])
    got = columns(settings)
    assert got[-2:] == ["ema_100", "is_gap_in_window__ema_100"]  # added at the end
    assert "obv" in got  # a code switched off keeps its column (and values)
    assert rows(settings, "select rsi_14, ema_100 from indicator_values") == [(55.5, None)]

    for code in ("symbol", "computed_at", "indicator_code", "is_gap_in_window__x", "ema_é",
                 "x" * 47):
        with pytest.raises(ValueError, match="cannot name a column"):
            _store.value_columns([code])


def test_a_long_table_is_converted_keeping_every_value(make_settings):
    settings = make_settings("ind_long")
    old, older = dt.datetime(2026, 1, 2, 3, 4, 5, 678000), dt.datetime(2026, 1, 1)
    t1, t2 = dt.datetime(2022, 1, 1), dt.datetime(2022, 1, 1, 1)
    long_rows = [("ETHUSDT", "1h", "rsi_14", t1, 40.0, 0, older),
                 ("ETHUSDT", "1h", "rsi_14", t2, 41.5, 1, old),
                 ("ETHUSDT", "1h", "obv", t1, -3.0, 0, older),
                 ("ETHUSDT", "1h", "ema_7", t1, 7.0, 0, older),  # a code configured no more
                 ("BTCUSDT", "1h", "obv", t1, 9.0, 0, old)]
    with db.staging(settings) as conn, conn.cursor() as cur:  # what an earlier version left
        cur.execute(LONG_DDL)
        cur.executemany("insert into indicator_values values (%s, %s, %s, %s, %s, %s, %s)",
                        long_rows)
        cur.execute(_store.STATE_DDL)
        conn.commit()
    _store.save_state(settings, [_store.SeriesPlan("ETHUSDT", "1h", 2, 5, 3600, 2, t2)],
                      SPECS, old)
    assert rows(settings, "select count(*) from indicator_state") == [(1,)]

    _store.ensure_tables(settings, SPECS)
    got = columns(settings)
    assert "indicator_code" not in got and got[-3:] == [
        "is_gap_in_window__vwap", "is_gap_in_window__ema_7", "computed_at"]
    assert rows(settings, "select symbol, open_time, rsi_14, is_gap_in_window__rsi_14, obv, "
                          "ema_7, is_gap_in_window__ema_7, ema_12, computed_at "
                          "from indicator_values order by symbol, open_time") == [
        ("BTCUSDT", t1, None, None, 9.0, None, None, None, old),
        ("ETHUSDT", t1, 40.0, 0, -3.0, 7.0, 0, None, older),
        ("ETHUSDT", t2, 41.5, 1, None, None, None, None, old)]
    assert indexes(settings)[_store.COMPUTED_AT_INDEX] == ["computed_at"]
    assert rows(settings, "select count(*) from indicator_state") == [(0,)]  # all recomputed
    assert rows(settings, "select count(*) from information_schema.tables where table_schema "
                          "= database() and table_name like 'indicator_values%%'") == [(1,)]
    _store.ensure_tables(settings, SPECS)  # the converted table is left alone
    assert len(rows(settings, "select * from indicator_values")) == 3
