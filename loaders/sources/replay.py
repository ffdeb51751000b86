"""Replay of Binance kline CSV files (public-data archive or the bundled OHLCV layout)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from loaders.csv_files import RowError, iter_kline_chunks
from loaders.sources.base import KlineSource


class CsvReplay(KlineSource):
    name = "replay"

    def __init__(self, paths: list[str | Path], symbol: str | None = None,
                 interval: str | None = None):
        self.paths = [Path(p) for p in paths]
        self.symbol = symbol
        self.interval = interval
        self._errors: list[RowError] = []

    def candles(self) -> Iterator[dict]:
        for path in self.paths:
            for cols, rows in iter_kline_chunks(path, self.symbol, self.interval):
                if cols is not None:
                    yield from candles_of_columns(cols)
                    continue
                for _line, candle, error in rows:
                    if error is not None:
                        self._errors.append(error)
                    else:
                        yield to_message_candle(candle)

    def rejected(self) -> list[RowError]:
        return list(self._errors)


def to_message_candle(candle: dict) -> dict:
    out = dict(candle)
    out["open_time_ms"] = candle["open_time"].value // 1_000_000
    out["close_time_ms"] = candle["close_time"].value // 1_000_000
    del out["open_time"], out["close_time"]
    return out


_FIELDS = ("symbol", "interval_code", "open_time_ms", "close_time_ms", "open", "high", "low",
           "close", "volume", "quote_volume", "trade_count", "taker_buy_base_volume",
           "taker_buy_quote_volume")


def candles_of_columns(cols: dict) -> Iterator[dict]:
    """The message candles of a clean chunk (``iter_kline_chunks``), as to_message_candle
    gives them: times as epoch ms, NaN for a number the layout lacks."""
    series = [cols["symbol"].tolist(), cols["interval_code"].tolist(),
              (cols["open_time"].astype(np.int64) // 1_000_000).tolist(),
              (cols["close_time"].astype(np.int64) // 1_000_000).tolist(),
              *(cols[k].tolist() for k in _FIELDS[4:])]
    for values in zip(*series, strict=True):
        yield dict(zip(_FIELDS, values, strict=True))
