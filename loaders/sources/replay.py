"""Replay of Binance kline CSV files (public-data archive or the bundled OHLCV layout)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from loaders.csv_files import RowError, iter_kline_rows
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
            for _line, candle, error in iter_kline_rows(path, self.symbol, self.interval):
                if error is not None:
                    self._errors.append(error)
                    continue
                yield to_message_candle(candle)

    def rejected(self) -> list[RowError]:
        return list(self._errors)


def to_message_candle(candle: dict) -> dict:
    out = dict(candle)
    out["open_time_ms"] = candle["open_time"].value // 1_000_000
    out["close_time_ms"] = candle["close_time"].value // 1_000_000
    del out["open_time"], out["close_time"]
    return out
