"""Research mode: a Binance kline CSV in, one row of indicators per candle out, no warehouse.

Same arithmetic as the Spark job (``compute_indicators``), configuration from the seed file.
The file is read by ``loaders.csv_files.read_kline_csv`` (either layout: the 6-column OHLCV
export or data.binance.vision's 12-column archive). Output rows follow the input rows' order;
indicators are computed in time order and undefined values are left empty.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cryptoquant.constants import INTERVAL_SECONDS
from spark.indicators.compute import compute_indicators, gap_starts
from spark.indicators.config import SEED_CSV, IndicatorSpec, load_config_csv

logger = logging.getLogger(__name__)

PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
CSV_INDICATORS = ["rsi_14", "ema_12", "ema_26", "ema_50", "ema_200", "macd", "macd_signal",
                  "macd_hist", "bb_upper", "bb_middle", "bb_lower", "adx_14", "atr_14", "obv",
                  "vwap"]
OUTPUT_COLUMNS = ["open_time", *PRICE_COLUMNS, *CSV_INDICATORS]


class ResearchError(ValueError):
    pass


def _open_times(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(values, unit="ms")
    times = pd.to_datetime(values)
    if times.dt.tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times


def interval_seconds_of(candles: pd.DataFrame, interval: str | None) -> int:
    """The interval given, the file's interval_code, or the most common spacing."""
    code = interval
    if code is None and "interval_code" in candles and candles["interval_code"].notna().any():
        code = str(candles["interval_code"].dropna().iat[0])
    if code is not None:
        if code not in INTERVAL_SECONDS:
            raise ResearchError(f"unknown interval {code!r}")
        return INTERVAL_SECONDS[code]
    steps = candles["open_time"].sort_values().diff().dropna().dt.total_seconds()
    if steps.empty:
        return 3600
    return int(steps.mode().iat[0])


def indicators_frame(candles: pd.DataFrame, specs: list[IndicatorSpec],
                     all_indicators: bool = False) -> pd.DataFrame:
    """The output frame for candles (open_time + OHLCV columns), rows in input order."""
    codes = [s.code for s in specs]
    missing = [c for c in CSV_INDICATORS if c not in codes]
    if missing:
        raise ResearchError(f"the configuration has no active {missing}")
    df = candles[["open_time", *PRICE_COLUMNS]].copy()
    df["open_time"] = _open_times(df["open_time"])
    wide = compute_indicators(df, specs)
    out = df.reset_index(drop=True)
    wide = wide.reset_index(drop=True)
    extra = [c for c in codes if c not in CSV_INDICATORS] if all_indicators else []
    for code in CSV_INDICATORS + extra:
        out[code] = wide[code]
    return out


def write_csv(frame: pd.DataFrame, out: str | Path) -> None:
    frame = frame.copy()
    frame["open_time"] = frame["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(out, index=False, na_rep="", float_format=None)


def run_csv(in_path: str | Path, out_path: str | Path, symbol: str | None = None,
            interval: str | None = None, config: str | Path = SEED_CSV,
            all_indicators: bool = False) -> dict:
    """Read ``in_path``, compute, write ``out_path``; returns a small summary."""
    from loaders.csv_files import read_kline_csv

    candles, errors = read_kline_csv(in_path, symbol=symbol, interval=interval)
    for err in errors:
        logger.warning("skipped input row: %s", err)
    if candles is None or len(candles) == 0:
        raise ResearchError(f"{in_path}: no candles read ({len(errors)} rejected rows)")
    specs = load_config_csv(config)
    frame = indicators_frame(candles, specs, all_indicators)
    seconds = interval_seconds_of(frame.assign(
        interval_code=candles["interval_code"].to_numpy() if "interval_code" in candles
        else None), interval)
    ordered = frame["open_time"].sort_values(kind="stable")
    starts = gap_starts(ordered, seconds)
    gaps = [f"{ordered.iat[i - 1]:%Y-%m-%d %H:%M} -> {ordered.iat[i]:%Y-%m-%d %H:%M}"
            for i in np.flatnonzero(starts)]
    write_csv(frame, out_path)
    return {"rows": len(frame), "rejected_rows": len(errors), "gaps": gaps,
            "interval_seconds": seconds}
