"""The indicator arithmetic for one series: pure pandas/numpy/TA-Lib, no Spark, no database.

Shared by the Spark job (``check_candles``, ``indicator_columns`` and ``gap_columns`` inside its
``mapInArrow`` worker) and research mode (``compute_indicators``: CSV in, CSV out), so both
produce the same numbers. The work is done on numpy arrays in time order; only the research
wrappers build pandas frames, in the input's row order.

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from spark.indicators.config import IndicatorSpec

REQUIRED_COLUMNS = ("open_time", "open", "high", "low", "close", "volume")


class SeriesError(ValueError):
    """The candles of a series cannot be computed (duplicates, non-finite or inconsistent
    prices); the message says which candle."""


def _first_bad(mask: np.ndarray, times: np.ndarray, what: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise SeriesError(f"{int(mask.sum())} candle(s) with {what}, "
                          f"first at {pd.Timestamp(times[i])}")


def _utc_naive(values: pd.Series) -> pd.Series:
    if not pd.api.types.is_datetime64_dtype(values):
        values = pd.to_datetime(values)
        if values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[ns]")


@dataclass(frozen=True)
class Candles:
    """One series' candles, checked, in time order, as contiguous float64 arrays (what TA-Lib
    takes without a copy); ``order`` maps each row back to its input position (None: the input
    was already in time order, the usual case, and nothing was copied to sort it)."""

    open_time: np.ndarray  # datetime64[ns], strictly increasing
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    order: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.open_time)

    def column(self, name: str) -> np.ndarray:
        return getattr(self, name)


def check_candles(open_time, open_, high, low, close, volume) -> Candles:
    """The candles sorted by open time and checked; raises SeriesError naming the first bad
    candle (no open time, duplicate open time, non-finite or non-positive price, negative
    volume, high/low not bounding open/close)."""
    times = np.asarray(open_time, dtype="datetime64[ns]")
    cols = [np.ascontiguousarray(c, dtype="float64") for c in (open_, high, low, close, volume)]
    order = None
    ints = times.view("int64")
    if len(ints) > 1 and not (ints[1:] > ints[:-1]).all():
        order = np.argsort(times, kind="stable")  # NaT sorts last, as pandas does
        times = times[order]
        cols = [c[order] for c in cols]
        ints = times.view("int64")
    nat = np.isnat(times)
    _first_bad(nat, times, "no open time")
    _first_bad(np.concatenate([[False], ints[1:] == ints[:-1]]), times, "a duplicate open time")
    o, h, low_, c, v = cols
    finite = (np.isfinite(o) & np.isfinite(h) & np.isfinite(low_) & np.isfinite(c)
              & np.isfinite(v))
    _first_bad(~finite, times, "a missing or non-finite price or volume")
    _first_bad((o <= 0) | (h <= 0) | (low_ <= 0) | (c <= 0), times, "a price <= 0")
    _first_bad(v < 0, times, "a negative volume")
    _first_bad((h < np.maximum(o, c)) | (low_ > np.minimum(o, c)) | (h < low_), times,
               "high/low not bounding open/close")
    return Candles(times, o, h, low_, c, v, order)


def candles_of(df: pd.DataFrame) -> Candles:
    """``check_candles`` on a DataFrame with REQUIRED_COLUMNS (any numeric or numeric-string
    dtype; open_time naive UTC, tz-aware or parseable)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise SeriesError(f"missing columns {missing}")
    prices = [pd.to_numeric(df[c], errors="coerce").to_numpy(dtype="float64")
              for c in REQUIRED_COLUMNS[1:]]
    return check_candles(_utc_naive(df["open_time"]).to_numpy(), *prices)


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


def _call(spec: IndicatorSpec, candles: Candles) -> dict[str, np.ndarray]:
    """All outputs of one function call, by output name (BBANDS adds width and percent_b)."""
    if not spec.is_talib:
        c = candles
        return {"vwap": vwap_daily(c.open_time, c.high, c.low, c.close, c.volume)}
    fn = getattr(talib, spec.ta_function)
    result = fn(*(candles.column(col) for col in spec.input_columns), **spec.talib_params())
    names = spec.output_names
    arrays = result if isinstance(result, tuple) else (result,)
    out = {name: np.asarray(a, dtype="float64") for name, a in zip(names, arrays, strict=True)}
    if spec.ta_function == "BBANDS":
        upper, middle, lower = out["upperband"], out["middleband"], out["lowerband"]
        close = candles.close
        with np.errstate(divide="ignore", invalid="ignore"):
            width = np.where(middle != 0, (upper - lower) / middle, np.nan)
            spread = upper - lower
            out["width"] = width
            out["percent_b"] = np.where(spread > 0, (close - lower) / spread, np.nan)
    return out


def indicator_columns(
    candles: Candles,
    specs: Sequence[IndicatorSpec],
    seeds: Mapping[str, tuple[pd.Timestamp, float]] | None = None,
) -> dict[str, np.ndarray]:
    """Each indicator's values in time order (``candles``' rows), NaN where undefined; one
    TA-Lib call per distinct function and parameters (MACD's three outputs share one).

    ``seeds`` continues cumulative indicators (OBV) from stored values when the candles are
    only the tail of a series: ``{code: (open_time, stored value at that candle)}``.
    """
    computed: dict[tuple, dict[str, np.ndarray]] = {}
    columns: dict[str, np.ndarray] = {}
    for spec in specs:
        key = spec.call_key
        if key not in computed:
            computed[key] = _call(spec, candles)
        values = computed[key][spec.output_name]
        if spec.is_cumulative and seeds and spec.code in seeds:
            at, stored = seeds[spec.code]
            hit = np.flatnonzero(candles.open_time == np.datetime64(at, "ns"))
            if len(hit) != 1:
                raise SeriesError(f"{spec.code}: seed candle {at} is not in the window")
            values = values + (stored - values[hit[0]])
        columns[spec.code] = values
    return columns


def gap_columns(open_time: np.ndarray, specs: Sequence[IndicatorSpec],
                interval_seconds: int) -> dict[str, np.ndarray]:
    """Each indicator's gap flags (``open_time`` in time order): True where a missing candle
    lies inside the value's nominal window (the last ``spec.window_candles`` transitions; for
    VWAP, the UTC day so far). Indicators with the same window share one array."""
    times = np.asarray(open_time, dtype="datetime64[ns]")
    starts = gap_starts(times, interval_seconds)
    if not starts.any():  # the usual case: no gap, every flag False
        none = np.zeros(len(times), dtype=bool)
        return {spec.code: none for spec in specs}
    cum = np.cumsum(starts, dtype="int64")
    by_window: dict[int | None, np.ndarray] = {}
    out = {}
    for spec in specs:
        w = spec.window_candles(interval_seconds) if spec.is_talib else None
        if w not in by_window:
            if w is None:  # a gap before any candle of this UTC day so far (incl. one into it)
                by_window[w] = _cumsum_by_run(starts.astype("float64"),
                                              times.astype("datetime64[D]")) > 0
            else:
                before = np.concatenate([np.zeros(min(w, len(cum)), dtype="int64"), cum[:-w]])
                by_window[w] = (cum - before) > 0
        out[spec.code] = by_window[w]
    return out


def _input_order(columns: dict[str, np.ndarray], order: np.ndarray | None,
                 index: pd.Index) -> pd.DataFrame:
    """Columns in time order -> a frame in the input's row order and index (``order``: the
    input position of each time-ordered row, None when the input was in time order)."""
    if order is None:
        return pd.DataFrame(columns, index=index)
    back = np.empty_like(order)
    back[order] = np.arange(len(back))
    return pd.DataFrame({k: v[back] for k, v in columns.items()}, index=index)


def compute_indicators(
    df: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    seeds: Mapping[str, tuple[pd.Timestamp, float]] | None = None,
) -> pd.DataFrame:
    """Indicator values of one series, wide: one column per indicator code, one row per input
    candle (same index and order as ``df``), NaN where the indicator is undefined.

    ``seeds``: see ``indicator_columns``.
    """
    candles = candles_of(df)
    columns = indicator_columns(candles, specs, seeds)
    return _input_order({s.code: columns[s.code] for s in specs}, candles.order, df.index)


def gap_starts(open_time, interval_seconds: int) -> np.ndarray:
    """True at each candle that follows missing candles (``open_time`` in time order)."""
    t = np.asarray(open_time, dtype="datetime64[ns]").view("int64")
    return np.concatenate([[False], np.diff(t) > interval_seconds * 1_000_000_000])


def gap_flags(df: pd.DataFrame, specs: Sequence[IndicatorSpec],
              interval_seconds: int) -> pd.DataFrame:
    """Wide booleans, same rows as ``df``: ``gap_columns`` of its candles."""
    times = _utc_naive(df["open_time"]).to_numpy()
    order = None
    if len(times) > 1 and not (times[1:] >= times[:-1]).all():
        order = np.argsort(times, kind="stable")
        times = times[order]
    flags = gap_columns(times, specs, interval_seconds)
    return _input_order({s.code: flags[s.code] for s in specs}, order, df.index)
