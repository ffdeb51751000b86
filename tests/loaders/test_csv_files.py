"""Reading kline CSVs in both layouts, compressed or not, with bad rows reported."""

from __future__ import annotations

import gzip
import json
import zipfile

import pandas as pd
import pytest

from cryptoquant.constants import KLINE_COLUMNS
from loaders.csv_files import KlineFileError, iter_kline_chunks, iter_kline_rows, read_kline_csv
from loaders.messages import encode_kline, encode_kline_columns
from loaders.sources.replay import candles_of_columns
from tests.support.sample import SAMPLE_KLINES

OFFICIAL = SAMPLE_KLINES / "BTCUSDT-1h-2023-03.csv.gz"
OHLCV = SAMPLE_KLINES / "ETHUSDT-1h-2021-04-04_2023-12-30.csv.gz"


def test_official_layout_with_header():
    df, errors = read_kline_csv(OFFICIAL)
    assert errors == []
    assert list(df.columns) == list(KLINE_COLUMNS)
    assert len(df) == 743
    assert (df.symbol == "BTCUSDT").all() and (df.interval_code == "1h").all()
    first = df.iloc[0]
    assert first.open_time == pd.Timestamp("2023-03-01 00:00:00")
    assert first.trade_count == 430193 and first.quote_volume > 0
    assert (df[list(KLINE_COLUMNS[4:])].dtypes == "float64").all()
    placeholder = df[df.open_time == pd.Timestamp("2023-03-24 12:00")].iloc[0]
    assert placeholder.volume == 0 and placeholder.open == placeholder.high == 28080.0


def test_ohlcv_layout_keeps_every_row_in_order():
    df, errors = read_kline_csv(OHLCV)
    assert errors == [] and len(df) == 23989
    assert df.open_time.is_monotonic_increasing
    assert df.quote_volume.isna().all() and df.trade_count.isna().all()
    numbers = list(KLINE_COLUMNS[4:])
    assert (df[numbers].dtypes == "float64").all()
    assert str(df.open_time.dtype) == "datetime64[ns]" and df.open_time.dt.tz is None
    assert (df.close_time - df.open_time == pd.Timedelta(milliseconds=3_599_999)).all()


@pytest.mark.parametrize("container", ["plain", "zip", "gz"])
def test_headerless_official_rows_in_any_container(tmp_path, container):
    with gzip.open(OFFICIAL, "rt") as fh:
        lines = fh.read().splitlines()[1:11]  # no header
    text = "\n".join(lines) + "\n"
    if container == "plain":
        path = tmp_path / "BTCUSDT-1h-2023-03.csv"
        path.write_text(text)
    elif container == "gz":
        path = tmp_path / "BTCUSDT-1h-2023-03.csv.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = tmp_path / "BTCUSDT-1h-2023-03.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("BTCUSDT-1h-2023-03.csv", text)
    df, errors = read_kline_csv(path)
    assert errors == [] and len(df) == 10
    assert df.open_time.iloc[0] == pd.Timestamp("2023-03-01 00:00")


def test_microsecond_timestamps(tmp_path):
    path = tmp_path / "BTCUSDT-1h-2025-01.csv"
    path.write_text("1735689600000000,1,2,0.5,1.5,10,1735693199999999,15,3,5,7,0\n")
    df, errors = read_kline_csv(path)
    assert errors == []
    assert df.open_time.iloc[0] == pd.Timestamp("2025-01-01 00:00")


def test_bad_rows_are_reported_with_line_and_reason(tmp_path):
    path = tmp_path / "custom.csv"
    path.write_text(
        "date,open,high,low,close,volume,ticker\n"
        "2022-01-01 00:00:00,10,11,9,10.5,100,BTCUSDT\n"
        "2022-01-01 01:00:00,10,9,11,10.5,100,BTCUSDT\n"      # high < low
        "2022-01-01 02:00:00,10,11,9,abc,100,BTCUSDT\n"       # not a number
        "2022-01-01 03:30:00,10,11,9,10.5,100,BTCUSDT\n"      # not aligned
        "2022-01-01 04:00:00,10,11,9,10.5,-1,BTCUSDT\n"       # negative volume
        "2022-01-01 05:00:00,10,11,9\n"                       # short row
    )
    df, errors = read_kline_csv(path, interval="1h")
    assert len(df) == 1
    reasons = {e.line: e.reason for e in errors}
    assert reasons[3] == "high 9.0 is below low 11.0"
    assert "unreadable value" in reasons[4]
    assert "not aligned to the 1h interval" in reasons[5]
    assert "volume must not be negative" in reasons[6]
    assert reasons[7] == "expected 7 fields, got 4"
    assert str(errors[0]).startswith(f"{path}:3: ")


def test_unknown_layout_and_missing_symbol_are_clear(tmp_path):
    bad = tmp_path / "BTCUSDT-1h-x.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(KlineFileError, match="unrecognised layout"):
        read_kline_csv(bad)
    nameless = tmp_path / "klines.csv"
    nameless.write_text("1672531200000,1,2,0.5,1.5,10,1672534799999,15,3,5,7,0\n")
    with pytest.raises(KlineFileError, match="no symbol in the file name"):
        read_kline_csv(nameless)
    df, _ = read_kline_csv(nameless, symbol="ethusdt", interval="1h")
    assert df.symbol.iloc[0] == "ETHUSDT"


@pytest.mark.parametrize("path", sorted(SAMPLE_KLINES.glob("*.csv.gz")), ids=lambda p: p.name)
def test_column_reader_gives_what_the_row_reader_gives(path):
    fast, errors = read_kline_csv(path)
    candles = [c for _, c, e in iter_kline_rows(path) if e is None]
    slow = pd.DataFrame(candles, columns=list(KLINE_COLUMNS))
    for col in KLINE_COLUMNS[4:]:
        slow[col] = slow[col].astype("float64")
    assert errors == []
    pd.testing.assert_frame_equal(fast, slow)


def test_only_the_chunk_with_a_bad_row_is_read_row_by_row(tmp_path):
    path = tmp_path / "BTCUSDT-1h-x.csv"
    good = [f"2022-01-01 0{h}:00:00,10,11,9,10.5,100" for h in range(6)]
    good[3] = "2022-01-01 03:00:00,10,9,11,10.5,100"  # high < low
    path.write_text("date,open,high,low,close,volume\n" + "\n".join(good) + "\n")
    chunks = list(iter_kline_chunks(path, size=2))
    assert [cols is not None for cols, _ in chunks] == [True, False, True]
    assert [(line, error.reason) for line, _, error in chunks[1][1] if error] == [
        (5, "high 9.0 is below low 11.0")]
    df, errors = read_kline_csv(path)
    assert len(df) == 5 and df.open_time.is_monotonic_increasing and len(errors) == 1


@pytest.mark.parametrize("path", [OFFICIAL, OHLCV], ids=lambda p: p.name)
def test_column_wise_messages_are_byte_for_byte_the_per_candle_ones(path):
    """Both layouts: trade counts given (official) and all missing (OHLCV, null)."""
    stamp = "2024-05-06T07:08:09.123Z"
    (cols, _), = list(iter_kline_chunks(path))
    per_candle = [encode_kline(c, "replay", stamp) for c in candles_of_columns(cols)]
    assert encode_kline_columns(cols, "replay", stamp) == per_candle
    assert len(per_candle) == len(cols["open"]) > 700


def test_column_wise_messages_with_some_trade_counts_missing():
    (cols, _), = list(iter_kline_chunks(OFFICIAL, size=10_000))
    cols = {k: v[:5].copy() for k, v in cols.items()}
    cols["trade_count"][[1, 3]] = float("nan")
    cols["quote_volume"][2] = float("nan")
    stamp = "2024-05-06T07:08:09.123Z"
    out = encode_kline_columns(cols, "replay", stamp)
    assert out == [encode_kline(c, "replay", stamp) for c in candles_of_columns(cols)]
    assert [json.loads(m)["trade_count"] is None for m in out] == [False, True, False, True,
                                                                   False]
    assert json.loads(out[2])["quote_volume"] is None


_HEAD = "date,open,high,low,close,volume,ticker"
_ROWS = [f"2022-01-01 {h:02d}:00:00,10,11,9,10.5,{100 + h},BTCUSDT" for h in range(7)]
_OFFICIAL_ROWS = [f"{1672531200000 + h * 3_600_000},1,2,0.5,1.5,10,"
                  f"{1672534799999 + h * 3_600_000},15,3,5,7,0" for h in range(5)]


@pytest.mark.parametrize("text", [
    "\n".join([_HEAD, *_ROWS]) + "\n",
    "\n".join([_HEAD, *_ROWS]),                                       # no final newline
    "\r\n".join([_HEAD, *_ROWS]) + "\r\n",                            # CRLF
    "\r".join([_HEAD, *_ROWS]) + "\r",                                # lone CRs
    "\n".join([_HEAD, *_ROWS[:3], "", " ", *_ROWS[3:]]) + "\n",       # blank lines
    "\n".join([_HEAD, *_ROWS[:4], '2022-01-01 07:00:00,"10",11,9,10.5,1,"BTC\nUSDT"',
               *_ROWS[4:]]) + "\n",                                   # quotes, a newline inside
    "\n".join([_HEAD, *_ROWS[:2], "2022-01-01 07:00:00, 10 ,11,9,1_0.5,1,btcusdt ",
               "2022-01-01 08:00:00,nan,11,9,10,1,BTCUSDT", "2022-01-01 09:00:00,,11,9,10,1,X",
               "2022-01-01 10:00:00,1e400,11,9,10,1,X", *_ROWS[2:]]) + "\n",  # odd numbers
    "\n".join([_HEAD, *_ROWS[:5], "2022-01-01 07:00:00,10,11,9,10.5,1,BTC\0USDT",
               *_ROWS[5:]]) + "\n",                                   # a NUL
    "\n".join([_HEAD, *_ROWS[:3], "2022-01-01 07:00:00,10,11,9,10.5,1,BTCUSDT,extra",
               "2022-01-01T08:00:00+01:00,10,11,9,10.5,1, ethusdt", *_ROWS[3:]]),
    "\n".join(_OFFICIAL_ROWS) + "\n",                                 # official, no header
    "\n".join(_OFFICIAL_ROWS[:2] + ["1672542000000,1,2,0.5,1.5,10, 1672545599999,15,3.7,5,7,0",
                                    "+1672545600000,1,2,0.5,1.5,10,1672549199999,15,3,5,7,0"]
              + _OFFICIAL_ROWS[2:]) + "\n",
], ids=["plain", "no-final-newline", "crlf", "lone-cr", "blank-lines", "quotes", "odd-numbers",
        "nul", "wide-row-and-offset-date", "official", "official-odd"])
@pytest.mark.parametrize("size", [1, 2, 3, 50_000])
def test_chunks_read_whatever_the_row_reader_reads(tmp_path, text, size):
    """The chunks (raw lines through Arrow, csv.reader where lines and rows may differ) give
    exactly the row reader's candles and errors, whatever the file's oddities and the chunk
    size: same values, same line numbers, same reasons."""
    path = tmp_path / "BTCUSDT-1h-x.csv"
    path.write_bytes(text.encode())
    candles, errors = [], []
    for cols, rows in iter_kline_chunks(path, size=size):
        if cols is not None:
            candles += list(candles_of_columns(cols))
        for _line, candle, error in rows:
            if error is None:
                candles.append({**candle, "open_time_ms": candle["open_time"].value // 10**6,
                                "close_time_ms": candle["close_time"].value // 10**6})
            else:
                errors.append(error)
    expected = [(line, candle, error) for line, candle, error in iter_kline_rows(path)]
    fields = ("symbol", "interval_code", "open_time_ms", "close_time_ms", "open", "high",
              "low", "close", "volume")
    assert [tuple(c[f] for f in fields) for c in candles] == [
        (c["symbol"], c["interval_code"], c["open_time"].value // 10**6,
         c["close_time"].value // 10**6, c["open"], c["high"], c["low"], c["close"],
         c["volume"]) for _, c, e in expected if e is None]
    assert errors == [e for _, _, e in expected if e is not None]
    assert len(candles) + len(errors) > 3
