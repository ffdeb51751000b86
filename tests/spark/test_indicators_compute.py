"""The indicator arithmetic on the bundled real candles: every value against TA-Lib called
directly, VWAP against a plain loop, gaps, the placeholder candle, incremental windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from spark.indicators import (
    SeriesError,
    compute_indicators,
    gap_flags,
    load_config_csv,
    parse_config,
    warmup_candles,
)
from spark.indicators.config import SEED_CSV
from tests.support.sample import SYMBOLS, read_sample

SPECS = load_config_csv()
CODES = [s.code for s in SPECS]


@pytest.fixture(scope="module", params=SYMBOLS)
def series(request):
    df = read_sample(request.param)
    return request.param, df, compute_indicators(df, SPECS)


def talib_reference(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The expected values, written out by hand from TA-Lib's documented functions."""
    o, h, low, c, v = (df[k].to_numpy(dtype="float64") for k in
                       ("open", "high", "low", "close", "volume"))
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    return {
        "rsi_14": talib.RSI(c, timeperiod=14),
        "ema_12": talib.EMA(c, timeperiod=12),
        "ema_26": talib.EMA(c, timeperiod=26),
        "ema_50": talib.EMA(c, timeperiod=50),
        "ema_200": talib.EMA(c, timeperiod=200),
        "macd": macd, "macd_signal": signal, "macd_hist": hist,
        "bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
        "bb_width": (upper - lower) / middle,
        "bb_percent_b": (c - lower) / (upper - lower),
        "adx_14": talib.ADX(h, low, c, timeperiod=14),
        "plus_di_14": talib.PLUS_DI(h, low, c, timeperiod=14),
        "minus_di_14": talib.MINUS_DI(h, low, c, timeperiod=14),
        "atr_14": talib.ATR(h, low, c, timeperiod=14),
        "obv": talib.OBV(c, v),
    }


def vwap_loop(df: pd.DataFrame) -> np.ndarray:
    """VWAP written as a plain loop: reset at each UTC midnight, typical price (h+l+c)/3."""
    out, day, pv, vol = [], None, 0.0, 0.0
    for r in df.itertuples(index=False):
        if r.open_time.date() != day:
            day, pv, vol = r.open_time.date(), 0.0, 0.0
        pv += (r.high + r.low + r.close) / 3.0 * r.volume
        vol += r.volume
        out.append(pv / vol if vol > 0 else np.nan)
    return np.array(out)


def assert_close(actual, expected, rtol=1e-9, atol=0.0, what=""):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), f"{what}: NaN positions differ"
    ok = ~np.isnan(expected)
    assert ok.sum() > 0
    diff = np.abs(actual[ok] - expected[ok])
    limit = np.maximum(rtol * np.abs(expected[ok]), atol)
    worst = int(np.argmax(diff - limit))
    assert (diff <= limit).all(), f"{what}: {actual[ok][worst]} vs {expected[ok][worst]}"


def test_every_indicator_equals_talib(series):
    symbol, df, wide = series
    assert list(wide.columns) == CODES
    assert len(wide) == len(df) > 23_000
    for code, expected in talib_reference(df).items():
        assert_close(wide[code], expected, what=f"{symbol} {code}")


def test_vwap_equals_direct_computation(series):
    symbol, df, wide = series
    assert_close(wide["vwap"], vwap_loop(df), rtol=1e-12, what=f"{symbol} vwap")
    first_of_day = df["open_time"].dt.hour == 0
    typical = (df.high + df.low + df.close) / 3
    assert np.allclose(wide["vwap"][first_of_day], typical[first_of_day], rtol=1e-12)


def test_placeholder_candle_is_harmless():
    df = read_sample("BTCUSDT", pd.Timestamp("2023-03-20"), pd.Timestamp("2023-03-26"))
    wide = compute_indicators(df, SPECS)
    at = df.index[df.open_time == pd.Timestamp("2023-03-24 12:00")][0]
    assert df.volume[at] == 0 and df.high[at] == df.low[at]
    assert wide.loc[at:].iloc[:, :].drop(columns=["ema_200"]).notna().all().all()
    assert wide.vwap[at] == pytest.approx(wide.vwap[at - 1], rel=1e-15)  # zero weight
    assert wide.obv[at] == wide.obv[at - 1]


def test_vwap_undefined_only_while_the_day_has_no_volume():
    times = pd.date_range("2024-01-01 22:00", periods=5, freq="h")
    df = pd.DataFrame({"open_time": times, "open": 10.0, "high": [11, 11, 10, 12, 13.0],
                       "low": [9, 9, 10, 8, 9.0], "close": 10.0,
                       "volume": [1.0, 3.0, 0.0, 2.0, 2.0]})
    vwap = compute_indicators(df, SPECS)["vwap"].to_numpy()
    assert vwap[0] == 10.0 and vwap[1] == 10.0
    assert np.isnan(vwap[2])  # 00:00, new day, zero volume so far
    assert vwap[3] == 10.0 and vwap[4] == pytest.approx((2 * 10 + 2 * (13 + 9 + 10) / 3) / 4)


def test_gaps_are_computed_through_and_flagged():
    df = read_sample("BTCUSDT", end=pd.Timestamp("2021-06-01"))
    wide = compute_indicators(df, SPECS)
    flags = gap_flags(df, SPECS, 3600)
    after = df.index[df.open_time.diff() > pd.Timedelta(hours=1)]
    assert list(df.open_time[after].dt.strftime("%m-%d %H")) == ["04-20 04", "04-25 08"]
    # same values as TA-Lib on the candles as they are (no filling, no shift)
    assert_close(wide["rsi_14"], talib.RSI(df.close.to_numpy(), 14), what="rsi")
    first = after[0]
    rsi = flags["rsi_14"]
    assert not rsi[first - 1] and rsi[first] and rsi[first + 13] and not rsi[first + 14]
    assert flags["obv"][first] and not flags["obv"][first + 1]
    day = df.open_time.dt.date == df.open_time[first].date()
    assert flags["vwap"][day & (df.index >= first)].all()
    assert not flags["vwap"][day & (df.index < first)].any()
    assert not flags["ema_200"][:first].any() and flags["ema_200"][first + 198]


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_tail_with_warmup_equals_full_recompute(symbol):
    """An incremental run (W warm-up candles + OBV seeded from the stored value) gives the
    same values as a full recompute, at several cut points (across the gaps too)."""
    df = read_sample(symbol)
    full = compute_indicators(df, SPECS)
    w = warmup_candles(SPECS, 3600)
    assert w == 2964
    for last in (w + 5, 4000, 12_000, len(df) - 500):
        window = df.iloc[last - w + 1:]
        seeds = {"obv": (df.open_time[last], full.obv[last])}
        tail = compute_indicators(window, SPECS, seeds).loc[last + 1:]
        expected = full.loc[last + 1:]
        for code in CODES:
            # %B is a unit-scale ratio that crosses 0: compared in absolute terms
            atol = 1e-9 if code == "bb_percent_b" else 0.0
            assert_close(tail[code], expected[code], atol=atol, what=f"{symbol} {code} @{last}")


def test_input_order_is_kept():
    df = read_sample("ETHUSDT", end=pd.Timestamp("2021-07-01"))
    shuffled = df.sample(frac=1.0, random_state=1)
    out = compute_indicators(shuffled, SPECS)
    assert list(out.index) == list(shuffled.index)
    assert_close(out.sort_index()["ema_50"], compute_indicators(df, SPECS)["ema_50"])


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d.assign(high=d.high.where(d.index != 5, d.low - 1)), "high/low"),
    (lambda d: d.assign(close=d.close.where(d.index != 7, np.nan)), "non-finite"),
    (lambda d: d.assign(close=d.close.where(d.index != 7, -1.0)), "price <= 0"),
    (lambda d: d.assign(volume=d.volume.where(d.index != 3, -2.0)), "negative volume"),
    (lambda d: pd.concat([d, d.iloc[[4]]]), "duplicate open time"),
])
def test_corrupt_series_is_rejected(breakage, message):
    df = read_sample("BNBUSDT", end=pd.Timestamp("2021-05-01"))
    with pytest.raises(SeriesError, match=message):
        compute_indicators(breakage(df), SPECS)


def test_a_config_row_adds_an_indicator():
    rows = pd.read_csv(SEED_CSV, dtype=str, keep_default_na=False).to_dict("records")
    rows.append({"indicator_code": "ema_100", "indicator_name": "EMA(100)",
                 "ta_function": "EMA", "output_name": "real", "timeperiod": "100",
                 "is_active": "1"})
    rows.append({"indicator_code": "sma_7", "ta_function": "SMA", "output_name": "real",
                 "timeperiod": "7", "is_active": "1"})
    rows[0] = {**rows[0], "is_active": "0"}  # rsi_14 switched off
    specs = parse_config(rows)
    df = read_sample("BTCUSDT", end=pd.Timestamp("2021-08-01"))
    wide = compute_indicators(df, specs)
    assert "rsi_14" not in wide and {"ema_100", "sma_7"} <= set(wide)
    assert_close(wide["ema_100"], talib.EMA(df.close.to_numpy(), 100), what="ema_100")
    assert_close(wide["sma_7"], talib.SMA(df.close.to_numpy(), 7), what="sma_7")


@pytest.mark.parametrize("row, message", [
    ({"ta_function": "NOPE", "output_name": "real"}, "not a TA-Lib function"),
    ({"ta_function": "EMA", "output_name": "real"}, "needs timeperiod"),
    ({"ta_function": "EMA", "output_name": "upper", "timeperiod": "5"}, "has outputs"),
    ({"ta_function": "OBV", "output_name": "real", "timeperiod": "5"}, "takes no timeperiod"),
    ({"ta_function": "MACD", "output_name": "macd", "fastperiod": "12", "slowperiod": "26",
      "signalperiod": "9.5"}, "not whole"),
])
def test_invalid_config_rows_are_refused(row, message):
    from spark.indicators import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config([{"indicator_code": "x_1", "is_active": "1", **row}])
