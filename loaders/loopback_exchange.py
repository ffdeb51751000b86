"""A stand-in for Binance on loopback, for tests and the live-freshness benchmark.

It answers the same REST paths (``/api/v3/ping``, ``/api/v3/time``, ``/api/v3/klines``) with
the same JSON shapes and limits, and serves the kline WebSocket stream
(``/stream?streams=btcusdt@kline_1h/...``) with Binance's event payload, from recorded real
candles. Tests steer it: move its clock, inject 429/5xx answers, push stream events, drop
connections.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd
from websockets.asyncio.server import serve

from cryptoquant.constants import INTERVAL_SECONDS


def _rest_row(c: dict) -> list:
    return [c["open_time_ms"], f"{c['open']:.8f}", f"{c['high']:.8f}", f"{c['low']:.8f}",
            f"{c['close']:.8f}", f"{c['volume']:.8f}", c["close_time_ms"],
            f"{c.get('quote_volume') or 0:.8f}", int(c.get("trade_count") or 0),
            f"{c.get('taker_buy_base_volume') or 0:.8f}",
            f"{c.get('taker_buy_quote_volume') or 0:.8f}", "0"]


def stream_event(c: dict, closed: bool, event_ms: int | None = None) -> dict:
    return {"e": "kline", "E": event_ms or c["close_time_ms"], "s": c["symbol"], "k": {
        "t": c["open_time_ms"], "T": c["close_time_ms"], "s": c["symbol"],
        "i": c["interval_code"], "f": 0, "L": 0, "o": f"{c['open']:.8f}",
        "c": f"{c['close']:.8f}", "h": f"{c['high']:.8f}", "l": f"{c['low']:.8f}",
        "v": f"{c['volume']:.8f}", "n": int(c.get("trade_count") or 0), "x": closed,
        "q": f"{c.get('quote_volume') or 0:.8f}", "V": "0", "Q": "0", "B": "0"}}


def candles_from_frame(df: pd.DataFrame, symbol: str, interval: str) -> list[dict]:
    """Rows of a frame with open_time, open, high, low, close, volume as stream candles."""
    step = INTERVAL_SECONDS[interval] * 1000
    out = []
    for r in df.itertuples(index=False):
        open_ms = int(pd.Timestamp(r.open_time).value // 1_000_000)
        out.append({"symbol": symbol, "interval_code": interval, "open_time_ms": open_ms,
                    "close_time_ms": open_ms + step - 1, "open": float(r.open),
                    "high": float(r.high), "low": float(r.low), "close": float(r.close),
                    "volume": float(r.volume)})
    return out


class LoopbackExchange:
    def __init__(self, candles: dict[str, list[dict]], now_ms: int):
        self.candles = {s: sorted(v, key=lambda c: c["open_time_ms"]) for s, v in candles.items()}
        self.now_ms = now_ms
        self.requests: list[dict] = []
        self._failures: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_server = None
        self._connections: set = set()
        self.connections_opened = 0
        self.connected = threading.Condition()

    # ---- steering -----------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._failures += [(status, headers)] * times

    def push(self, candle: dict, closed: bool) -> None:
        """Send a stream event for ``candle`` to every connected client."""
        message = json.dumps({"stream": f"{candle['symbol'].lower()}@kline_"
                              f"{candle['interval_code']}", "data": stream_event(candle, closed)})
        asyncio.run_coroutine_threadsafe(self._broadcast(message), self._loop).result(5)

    def push_raw(self, message: str) -> None:
        """Send an arbitrary text frame (e.g. a garbled event) to every connected client."""
        asyncio.run_coroutine_threadsafe(self._broadcast(message), self._loop).result(5)

    def drop_connections(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(5)

    def wait_for_connections(self, count: int, timeout: float = 20.0) -> None:
        with self.connected:
            if not self.connected.wait_for(lambda: self.connections_opened >= count
                                           and self._connections, timeout):
                raise TimeoutError(f"no client connection #{count} within {timeout}s")

    # ---- REST ---------------------------------------------------------------------------
    def _klines(self, query: dict) -> tuple[int, object]:
        symbol = query.get("symbol", [""])[0]
        interval = query.get("interval", [""])[0]
        if symbol not in self.candles:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if interval not in INTERVAL_SECONDS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        limit = int(query.get("limit", ["500"])[0])
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Invalid limit."}
        start = int(query.get("startTime", ["0"])[0])
        end = int(query.get("endTime", [str(2**62)])[0])
        rows = [c for c in self.candles[symbol]
                if start <= c["open_time_ms"] <= end and c["open_time_ms"] <= self.now_ms]
        return 200, [_rest_row(c) for c in rows[:limit]]

    def _handler(self):
        exchange = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                exchange.requests.append({"path": parts.path, "query": query})
                with exchange._lock:
                    failure = exchange._failures.pop(0) if exchange._failures else None
                if failure:
                    status, headers = failure
                    return self._send(status, {"code": -1003, "msg": "Too many requests."},
                                      headers)
                if parts.path == "/api/v3/ping":
                    return self._send(200, {})
                if parts.path == "/api/v3/time":
                    return self._send(200, {"serverTime": exchange.now_ms})
                if parts.path == "/api/v3/klines":
                    return self._send(*exchange._klines(query))
                return self._send(404, {"code": -1, "msg": "Not found."})

            def _send(self, status, body, headers=None):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    # ---- WebSocket ----------------------------------------------------------------------
    async def _ws_handler(self, connection):
        self._connections.add(connection)
        with self.connected:
            self.connections_opened += 1
            self.connected.notify_all()
        try:
            await connection.wait_closed()
        finally:
            self._connections.discard(connection)

    async def _broadcast(self, message: str) -> None:
        for conn in list(self._connections):
            await conn.send(message)

    async def _close_all(self) -> None:
        for conn in list(self._connections):
            await conn.close(code=1012, reason="service restart")
        self._connections.clear()

    # ---- life cycle ---------------------------------------------------------------------
    def start(self) -> LoopbackExchange:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        ready = threading.Event()

        def run_loop():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)

            async def main():
                self._ws_server = await serve(self._ws_handler, "127.0.0.1", 0)
                ready.set()
                await self._ws_server.wait_closed()

            self._loop.run_until_complete(main())

        threading.Thread(target=run_loop, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("loopback WebSocket server did not start")
        return self

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/api"

    @property
    def ws_url(self) -> str:
        port = next(iter(self._ws_server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        if self._loop and self._ws_server:
            self._loop.call_soon_threadsafe(self._ws_server.close)

    def __enter__(self) -> LoopbackExchange:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
