"""Live klines from Binance's WebSocket kline stream.

A candle is published only once Binance marks it closed (``k.x``). The connection is
re-opened with exponential backoff when it drops, and every gap — after a reconnect, or a
candle missing from the stream — is filled through the REST endpoint before newer candles are
published, so each series stays complete and in order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from cryptoquant.config import Settings
from cryptoquant.constants import INTERVAL_SECONDS
from loaders.sources.backfill import RestBackfill
from loaders.sources.base import KlineSource

logger = logging.getLogger(__name__)


def parse_ws_kline(k: dict) -> dict:
    """The ``k`` object of a kline stream event as a message candle."""
    return {
        "symbol": k["s"], "interval_code": k["i"],
        "open_time_ms": int(k["t"]), "close_time_ms": int(k["T"]),
        "open": float(k["o"]), "high": float(k["h"]), "low": float(k["l"]),
        "close": float(k["c"]), "volume": float(k["v"]),
        "quote_volume": float(k["q"]) if "q" in k else None,
        "trade_count": int(k["n"]) if "n" in k else None,
        "taker_buy_base_volume": float(k["V"]) if "V" in k else None,
        "taker_buy_quote_volume": float(k["Q"]) if "Q" in k else None,
    }


class LiveStream(KlineSource):
    name = "live"

    def __init__(self, settings: Settings, symbols: list[str], interval: str,
                 start_after_ms: dict[str, int] | None = None, max_candles: int | None = None,
                 stop: threading.Event | None = None, backoff_seconds: float = 1.0,
                 max_backoff_seconds: float = 30.0,
                 now_ms: Callable[[], int] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.symbols = [s.upper() for s in symbols]
        self.interval = interval
        self.step_ms = INTERVAL_SECONDS[interval] * 1000
        # last published open time per symbol; REST fills anything after it
        self.last_open: dict[str, int | None] = {s: None for s in self.symbols}
        for symbol, ms in (start_after_ms or {}).items():
            self.last_open[symbol.upper()] = ms
        self.max_candles = max_candles
        self.stop = stop or threading.Event()
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.now_ms = now_ms  # the exchange's clock (tests); None = this machine's
        self.sleep = sleep
        self.published = 0
        self.reconnects = 0
        self.gap_filled = 0

    def url(self) -> str:
        streams = "/".join(f"{s.lower()}@kline_{self.interval}" for s in self.symbols)
        return f"{self.settings.binance_ws_url.rstrip('/')}/stream?streams={streams}"

    def _rest(self, symbol: str, start_ms: int, end_ms: int | None) -> RestBackfill:
        return RestBackfill(self.settings, symbol, self.interval, start_ms, end_ms,
                            now_ms=self.now_ms)

    def _fill(self, symbol: str, until_open_ms: int | None) -> Iterator[dict]:
        """REST candles after the last published one (up to ``until_open_ms`` exclusive)."""
        last = self.last_open[symbol]
        if last is None:
            return
        end = None if until_open_ms is None else until_open_ms - 1
        if end is not None and end < last + self.step_ms:
            return
        for candle in self._rest(symbol, last + self.step_ms, end).candles():
            if candle["open_time_ms"] <= (self.last_open[symbol] or -1):
                continue
            self.gap_filled += 1
            yield candle

    def _emit(self, candle: dict) -> bool:
        self.last_open[candle["symbol"]] = candle["open_time_ms"]
        self.published += 1
        return self.max_candles is not None and self.published >= self.max_candles

    def candles(self) -> Iterator[dict]:
        attempt = 0
        while not self.stop.is_set():
            try:
                with connect(self.url(), open_timeout=10, close_timeout=2) as ws:
                    logger.info("connected to %s", self.url())
                    for symbol in self.symbols:  # catch up (start or reconnect) through REST
                        for candle in self._fill(symbol, None):
                            yield candle
                            if self._emit(candle):
                                return
                    attempt = 0
                    while not self.stop.is_set():
                        try:
                            raw = ws.recv(timeout=1.0)
                        except TimeoutError:
                            continue
                        try:
                            event = json.loads(raw)
                            data = event.get("data", event) if isinstance(event, dict) else None
                            k = data.get("k") if isinstance(data, dict) else None
                            if not k or not k.get("x"):
                                continue  # an update of a candle that is still open
                            candle = parse_ws_kline(k)
                        except (ValueError, KeyError, TypeError) as exc:
                            # Skipping is safe: the next closed candle of the series first
                            # fills everything missing before it through REST.
                            logger.warning("unreadable stream event skipped (%s): %.200r",
                                           exc, raw)
                            continue
                        symbol = candle["symbol"]
                        if symbol not in self.last_open:
                            continue
                        last = self.last_open[symbol]
                        if last is not None and candle["open_time_ms"] <= last:
                            continue  # already published (e.g. through a gap fill)
                        for missing in self._fill(symbol, candle["open_time_ms"]):
                            yield missing
                            if self._emit(missing):
                                return
                        yield candle
                        if self._emit(candle):
                            return
            except (ConnectionClosed, OSError, InvalidHandshake, InvalidURI) as exc:
                if self.stop.is_set():
                    return
                attempt += 1
                self.reconnects += 1
                wait = min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)
                logger.warning("kline stream dropped (%s); reconnecting in %.1fs", exc, wait)
                self.sleep(wait)
