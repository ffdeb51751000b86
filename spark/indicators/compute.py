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


def _utc_naive(values: pd.Series) -> pd.Series:
    if not pd.api.types.is_datetime64_dtype(values):
        values = pd.to_datetime(values)
        if values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]")


def prepare_series(df: pd.DataFrame) -> pd.DataFrame:
    """The candles sorted by open time, as float64, checked; raises SeriesError."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise SeriesError(f"missing columns {missing}")
    data = {"open_time": _utc_naive(df["open_time"]).to_numpy()}
    for col in REQUIRED_COLUMNS[1:]:
        data[col] = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64")
    out = pd.DataFrame(data, index=df.index)
    ints = data["open_time"].view("int64")
    if len(ints) > 1 and not (np.diff(ints) > 0).all():
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
    day = np.asarray(open_time, dtype="datetime64[ns]").astype("datetime64[D]")
    # running sums restarted at each UTC day: rows are in time order, so a day is a run
    pv = _cumsum_by_run(typical * vol, day)
    v = _cumsum_by_run(vol, day)
    out = np.full(len(vol), np.nan)
    ok = v > 0
    out[ok] = pv[ok] / v[ok]
    return out


def _cumsum_by_run(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Cumulative sums that restart where ``keys`` changes (keys sorted or grouped in runs)."""
    out = np.empty(len(values))
    if len(values) == 0:
        return out
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    ends = np.append(starts[1:], len(values))
    for a, b in zip(starts, ends, strict=True):
        np.cumsum(values[a:b], out=out[a:b])
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
    codes = [spec.code for spec in specs]
    block = np.column_stack([columns[c] for c in codes]) if codes else None
    wide = pd.DataFrame(block, index=series.index, columns=codes)
    return wide if wide.index.equals(df.index) else wide.reindex(df.index)


def gap_starts(open_time, interval_seconds: int) -> np.ndarray:
    """True at each candle that follows missing candles (``open_time`` in time order)."""
    t = np.asarray(open_time, dtype="datetime64[ns]").view("int64")
    return np.concatenate([[False], np.diff(t) > interval_seconds * 1_000_000_000])


def gap_flags(df: pd.DataFrame, specs: Sequence[IndicatorSpec],
              interval_seconds: int) -> pd.DataFrame:
    """Wide booleans: True where a missing candle lies inside the value's nominal window
    (the last ``spec.window_candles`` transitions; for VWAP, the UTC day so far)."""
    order = _utc_naive(df["open_time"]).sort_values(kind="stable")
    times = order.to_numpy()
    starts = gap_starts(times, interval_seconds).astype("int64")
    cum = np.cumsum(starts)
    day_gaps = _cumsum_by_run(starts.astype("float64"), times.astype("datetime64[D]")) > 0
    flags = []
    for spec in specs:
        if spec.is_talib:
            w = spec.window_candles(interval_seconds)
            before = np.concatenate([np.zeros(min(w, len(cum)), dtype="int64"), cum[:-w]])
            flags.append((cum - before) > 0)
        else:  # a gap before any candle of this UTC day so far (incl. one leading into it)
            flags.append(day_gaps)
    block = np.column_stack(flags) if flags else None
    out = pd.DataFrame(block, index=order.index, columns=[s.code for s in specs])
    return out if out.index.equals(df.index) else out.reindex(df.index)
