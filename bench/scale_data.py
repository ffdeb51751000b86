"""The scale data set: ≥ 5M one-minute candles bridged from the real 1h candles.

The bridge keeps every real hour exactly: resampling its 60 minutes back to 1h gives the
hour's open, high, low, close and volume. Inside the hour the price walks a straight line
open → first extreme → second extreme → close (low first on an up hour, high first on a down
hour: the conventional OHLC path), one minute close per step; each minute opens at the previous
minute's close; its high/low are the max/min of its open and close, so the extremes are hit
exactly at their minutes; volume is spread evenly. Replicas of the three real series (named
``<SYMBOL>R<n>``, prices unchanged) reach the target size; they are honest about being copies.

    python -m bench.scale_data --out bench/.data/scale-1m.parquet --replicas 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from cryptoquant.config import PROJECT_ROOT

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
MINUTES = 60


def hourly(symbol: str) -> pd.DataFrame:
    path = PROJECT_ROOT / "data" / "sample" / "klines" / f"{symbol}-1h-2021-04-04_2023-12-30.csv.gz"
    df = pd.read_csv(path, parse_dates=["date"]).rename(columns={"date": "open_time"})
    return df[["open_time", "open", "high", "low", "close", "volume"]]


def bridge(h: pd.DataFrame) -> pd.DataFrame:
    """60 one-minute candles per hour; vectorised over all hours."""
    o, hi, lo, c, v = (h[k].to_numpy(float) for k in ("open", "high", "low", "close", "volume"))
    n = len(h)
    up = c >= o
    first = np.where(up, lo, hi)
    second = np.where(up, hi, lo)
    # Waypoints at minutes 0 (open), 20 (first extreme), 40 (second extreme), 60 (close).
    knots_t = np.array([0.0, 20.0, 40.0, 60.0])
    knots = np.stack([o, first, second, c], axis=1)  # (n, 4)
    t = np.arange(1, MINUTES + 1, dtype=float)  # minute closes at t = 1..60
    seg = np.minimum(np.searchsorted(knots_t, t, side="left") - 1, 2)
    seg = np.maximum(seg, 0)
    frac = (t - knots_t[seg]) / (knots_t[seg + 1] - knots_t[seg])
    closes = knots[:, seg] + (knots[:, seg + 1] - knots[:, seg]) * frac  # (n, 60)
    opens = np.concatenate([o[:, None], closes[:, :-1]], axis=1)
    highs = np.maximum(opens, closes)
    lows = np.minimum(opens, closes)
    vols = np.repeat((v / MINUTES)[:, None], MINUTES, axis=1)
    start = h["open_time"].to_numpy("datetime64[ns]")[:, None]
    times = start + (np.arange(MINUTES) * np.timedelta64(60, "s"))[None, :]
    return pd.DataFrame({
        "open_time": times.ravel(), "open": opens.ravel(), "high": highs.ravel(),
        "low": lows.ravel(), "close": closes.ravel(), "volume": vols.ravel(),
    }).assign(row=np.arange(n * MINUTES))


def build(replicas: int = 2) -> pd.DataFrame:
    frames = []
    for symbol in SYMBOLS:
        minutes = bridge(hourly(symbol)).drop(columns="row")
        frames.append(minutes.assign(symbol=symbol))
        frames += [minutes.assign(symbol=f"{symbol}R{i}") for i in range(1, replicas + 1)]
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / ".data" / "scale-1m.parquet")
    ap.add_argument("--replicas", type=int, default=1, help="copies of each real series")
    args = ap.parse_args()
    df = build(args.replicas)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(args.out, index=False)
    print(f"{len(df):,} one-minute candles in {df.symbol.nunique()} series -> {args.out}")


if __name__ == "__main__":
    main()
