"""A short-lived in-process cache of successful GET /api/ answers.

The warehouse changes when the pipeline runs (hourly), so answering the same URL from memory
for a few seconds (RESPONSE_CACHE_SECONDS, default 10; 0 turns it off) spares the database
and the JSON encoding under load. Only 200 answers are kept; at most MAX_ENTRIES URLs.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Response, request

MAX_ENTRIES = 512


class ResponseCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        with self._lock:
            hit = self._entries.get(key)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), body)


def init_app(app: Flask) -> None:
    ttl = float(app.config.get("RESPONSE_CACHE_SECONDS", 10))
    if ttl <= 0:
        return
    cache = ResponseCache(ttl)

    def cacheable() -> bool:
        return request.method == "GET" and request.path.startswith("/api/")

    @app.before_request
    def serve_cached():
        if cacheable():
            body = cache.get(request.full_path)
            if body is not None:
                return Response(body, mimetype="application/json", headers={"X-Cache": "hit"})
        return None

    @app.after_request
    def keep(response: Response) -> Response:
        if cacheable() and response.status_code == 200 and "X-Cache" not in response.headers:
            cache.put(request.full_path, response.get_data())
            response.headers["X-Cache"] = "miss"
        return response
