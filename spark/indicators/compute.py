"""The indicator arithmetic for one series: pure pandas/numpy/TA-Lib, no Spark, no database.

Shared by the Spark job (inside ``applyInPandas``) and research mode (CSV in, CSV out), so both
produce the same numbers.

Gaps (real exchange outages; see data/sample/PROVENANCE.md): a series is computed as-is in
candle order, exactly as TA-Lib (and the exchange's own charts) treat it: missing candles are
never filled, forward-filled or interpolated, and each value is keyed by its own candle's open
time, so nothing shifts across a gap. What a gap does change is recorded instead of hidden:
``gap_flags`` marks every value whose nominal window (TA-Lib's lookback, or the UTC day for
VWAP) spans a missing candle. The zero-volume placeholder candle Binance publishes during an
outage is a real record and is kept; it has no effect on VWAP (zero weight), and VWAP is
undefined (NaN) only while a UTC day has had no volume at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import talib
import talib.abstract

from spark.indicators.config import IndicatorSpec

REQUIRED_COLUMNS = ("open_time", "open", "high", "low", "close", "volume")


class SeriesError(ValueError):
    """The candles of a series cannot be computed (duplicates, non-finite or inconsistent
    prices); the message says which candle."""


def _first_bad(mask: np.ndarray, times: pd.Series, what: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise SeriesError(f"{int(mask.sum())} candle(s) with {what}, first at {times.iloc[i]}")


def prepare_series(df: pd.DataFrame) -> pd.DataFrame:
    """The candles sorted by open time, as float64, checked; raises SeriesError."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise SeriesError(f"missing columns {missing}")
    out = pd.DataFrame({"open_time": pd.to_datetime(df["open_time"])}, index=df.index)
    if out["open_time"].dt.tz is not None:
        out["open_time"] = out["open_time"].dt.tz_convert("UTC").dt.tz_localize(None)
    for col in REQUIRED_COLUMNS[1:]:
        out[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    out = out.sort_values("open_time", kind="stable")
    times = out["open_time"]
    _first_bad(times.isna().to_numpy(), times, "no open time")
    _first_bad(times.duplicated().to_numpy(), times, "a duplicate open time")
    prices = out[["open", "high", "low", "close"]].to_numpy()
    volume = out["volume"].to_numpy()
    _first_bad(~np.isfinite(prices).all(axis=1) | ~np.isfinite(volume), times,
               "a missing or non-finite price or volume")
    _first_bad((prices <= 0).any(axis=1), times, "a price <= 0")
    _first_bad(volume < 0, times, "a negative volume")
    o, h, low, c = prices.T
    _first_bad((h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low), times,
               "high/low not bounding open/close")
    return out


def vwap_daily(open_time: pd.Series, high, low, close, volume) -> np.ndarray:
    """VWAP of the typical price (high+low+close)/3, cumulative within each UTC day."""
    typical = (np.asarray(high) + np.asarray(low) + np.asarray(close)) / 3.0
    vol = np.asarray(volume, dtype="float64")
    day = pd.to_datetime(open_time).dt.floor("D").to_numpy()
    frame = pd.DataFrame({"day": day, "pv": typical * vol, "v": vol})
    cum = frame.groupby("day", sort=False)[["pv", "v"]].cumsum()
    pv, v = cum["pv"].to_numpy(), cum["v"].to_numpy()
    out = np.full(len(vol), np.nan)
    ok = v > 0
    out[ok] = pv[ok] / v[ok]
    return out


def _call(spec: IndicatorSpec, series: pd.DataFrame) -> dict[str, np.ndarray]:
    """All outputs of one function call, by output name (BBANDS adds width and percent_b)."""
    if not spec.is_talib:
        s = series
        return {"vwap": vwap_daily(s["open_time"], s["high"], s["low"], s["close"],
                                   s["volume"])}
    fn = getattr(talib, spec.ta_function)
    args = [np.ascontiguousarray(series[c].to_numpy(), dtype="float64")
            for c in spec.input_columns]
    result = fn(*args, **spec.talib_params())
    names = talib.abstract.Function(spec.ta_function).info["output_names"]
    arrays = result if isinstance(result, tuple) else (result,)
    out = {name: np.asarray(a, dtype="float64") for name, a in zip(names, arrays, strict=True)}
    if spec.ta_function == "BBANDS":
        upper, middle, lower = out["upperband"], out["middleband"], out["lowerband"]
        close = series["close"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            width = np.where(middle != 0, (upper - lower) / middle, np.nan)
            spread = upper - lower
            out["width"] = width
            out["percent_b"] = np.where(spread > 0, (close - lower) / spread, np.nan)
    return out


def compute_indicators(
    df: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    seeds: Mapping[str, tuple[pd.Timestamp, float]] | None = None,
) -> pd.DataFrame:
    """Indicator values of one series, wide: one column per indicator code, one row per input
    candle (same index and order as ``df``), NaN where the indicator is undefined.

    ``seeds`` continues cumulative indicators (OBV) from stored values when ``df`` is only
    the tail of a series: ``{code: (open_time, stored value at that candle)}``.
    """
    series = prepare_series(df)
    computed: dict[tuple, dict[str, np.ndarray]] = {}
    columns: dict[str, np.ndarray] = {}
    for spec in specs:
        key = spec.call_key
        if key not in computed:
            computed[key] = _call(spec, series)
        values = computed[key][spec.output_name]
        if spec.is_cumulative and seeds and spec.code in seeds:
            at, stored = seeds[spec.code]
            hit = np.flatnonzero(series["open_time"].to_numpy() == np.datetime64(at))
            if len(hit) != 1:
                raise SeriesError(f"{spec.code}: seed candle {at} is not in the window")
            values = values + (stored - values[hit[0]])
        columns[spec.code] = values
    wide = pd.DataFrame(columns, index=series.index)
    return wide.reindex(df.index)


def gap_starts(open_time: pd.Series, interval_seconds: int) -> np.ndarray:
    """True at each candle that follows missing candles (in time order)."""
    t = pd.to_datetime(open_time).to_numpy()
    step = np.diff(t).astype("timedelta64[s]").astype("int64")
    return np.concatenate([[False], step > interval_seconds])


def gap_flags(df: pd.DataFrame, specs: Sequence[IndicatorSpec],
              interval_seconds: int) -> pd.DataFrame:
    """Wide booleans: True where a missing candle lies inside the value's nominal window
    (the last ``spec.window_candles`` transitions; for VWAP, the UTC day so far)."""
    order = pd.to_datetime(df["open_time"]).sort_values(kind="stable")
    starts = gap_starts(order, interval_seconds).astype("int64")
    cum = np.cumsum(starts)
    day = order.dt.floor("D").to_numpy()
    flags: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.is_talib:
            w = spec.window_candles(interval_seconds)
            before = np.concatenate([np.zeros(w, dtype="int64"), cum[:-w]]) if w < len(cum) \
                else np.zeros(len(cum), dtype="int64")
            flags[spec.code] = (cum - before) > 0
        else:
            # a gap before any candle of this UTC day so far (incl. one leading into the day)
            flags[spec.code] = (
                pd.Series(starts, index=order.index).groupby(day).cumsum().to_numpy() > 0)
    return pd.DataFrame(flags, index=order.index).reindex(df.index)
