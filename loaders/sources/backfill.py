"""Backfill from Binance's REST klines endpoint through python-binance.

Paginated (the endpoint returns at most 1000 candles a call), resumable (starts after the
last candle already landed in staging), polite (backs off and retries on 429/418/5xx and on
connection errors; any other 4xx is a clear error), and only closed candles are yielded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException, BinanceRequestException

from cryptoquant.config import Settings
from cryptoquant.constants import INTERVAL_SECONDS
from loaders.sources.base import KlineSource

logger = logging.getLogger(__name__)

PAGE_LIMIT = 1000
RETRYABLE_STATUS = {418, 429, 500, 502, 503, 504}


class ExchangeError(RuntimeError):
    """The exchange refused the request for a reason retrying will not fix."""


def make_client(settings: Settings) -> Client:
    """A python-binance client aimed at the configured base URL, without the network ping
    its constructor would otherwise make."""
    client = Client(ping=False, requests_params={"timeout": 15})
    client.API_URL = settings.binance_api_url.rstrip("/")
    return client


def parse_rest_kline(symbol: str, interval: str, row: list) -> dict:
    """One element of /api/v3/klines (a 12-item array) as a message candle."""
    return {
        "symbol": symbol, "interval_code": interval,
        "open_time_ms": int(row[0]), "close_time_ms": int(row[6]),
        "open": float(row[1]), "high": float(row[2]), "low": float(row[3]),
        "close": float(row[4]), "volume": float(row[5]), "quote_volume": float(row[7]),
        "trade_count": int(row[8]), "taker_buy_base_volume": float(row[9]),
        "taker_buy_quote_volume": float(row[10]),
    }


class RestBackfill(KlineSource):
    name = "backfill"

    def __init__(self, settings: Settings, symbol: str, interval: str, start_ms: int,
                 end_ms: int | None = None, client: Client | None = None,
                 now_ms: Callable[[], int] | None = None, max_retries: int = 8,
                 backoff_seconds: float = 1.0, sleep: Callable[[float], None] = time.sleep):
        if interval not in INTERVAL_SECONDS:
            raise ValueError(f"unknown interval {interval!r}")
        self.symbol, self.interval = symbol.upper(), interval
        self.start_ms, self.end_ms = start_ms, end_ms
        self.client = client or make_client(settings)
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.calls = 0
        self.retries = 0

    def _fetch(self, start_ms: int) -> list:
        params = {"symbol": self.symbol, "interval": self.interval, "startTime": start_ms,
                  "limit": PAGE_LIMIT}
        if self.end_ms is not None:
            params["endTime"] = self.end_ms
        for attempt in range(self.max_retries + 1):
            try:
                self.calls += 1
                return self.client.get_klines(**params)
            except BinanceAPIException as exc:
                if exc.status_code not in RETRYABLE_STATUS or attempt == self.max_retries:
                    raise ExchangeError(
                        f"Binance answered {exc.status_code} for {self.symbol} {self.interval} "
                        f"klines from {start_ms}: {exc.message} (code {exc.code})"
                    ) from exc
                wait = self._retry_after(exc) or self.backoff_seconds * 2**attempt
            except (requests.ConnectionError, requests.Timeout, BinanceRequestException) as exc:
                if attempt == self.max_retries:
                    raise ExchangeError(f"cannot reach {self.client.API_URL}: {exc}") from exc
                wait = self.backoff_seconds * 2**attempt
            self.retries += 1
            logger.warning("klines request for %s %s: retry %d in %.1fs", self.symbol,
                           self.interval, attempt + 1, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _retry_after(exc: BinanceAPIException) -> float | None:
        header = getattr(exc.response, "headers", {}).get("Retry-After")
        try:
            return float(header) if header else None
        except ValueError:
            return None

    def candles(self) -> Iterator[dict]:
        step_ms = INTERVAL_SECONDS[self.interval] * 1000
        cursor = self.start_ms
        while True:
            page = self._fetch(cursor)
            if not page:
                return
            now = self.now_ms()
            for row in page:
                candle = parse_rest_kline(self.symbol, self.interval, row)
                if candle["close_time_ms"] >= now:
                    return  # still open: only closed candles are published
                if self.end_ms is not None and candle["open_time_ms"] > self.end_ms:
                    return
                yield candle
            last_open = int(page[-1][0])
            if len(page) < PAGE_LIMIT:
                return
            cursor = last_open + step_ms


def resume_point(settings: Settings, symbol: str, interval: str, default_start_ms: int) -> int:
    """Epoch ms of the candle after the last one landed for the series (or the default)."""
    from cryptoquant import db

    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select max(open_time) from raw_klines where symbol = %s and interval_code = %s",
                    (symbol, interval))
        (last,) = cur.fetchone()
    if last is None:
        return default_start_ms
    import calendar

    return (calendar.timegm(last.timetuple()) + INTERVAL_SECONDS[interval]) * 1000
