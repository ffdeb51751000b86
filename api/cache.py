"""A short-lived in-process cache of successful GET /api/ answers.

The warehouse changes when the pipeline runs (hourly batch steps, or a live refresh round), so
answering the same URL from memory spares the database and the JSON encoding under load.
Answers are dropped when either

* the pipeline has finished a step since they were cached: every step and live round records
  its end in ``staging.pipeline_runs``, and one small query (at most every
  RESPONSE_CACHE_CHECK_SECONDS, default 1) notices it, so a fresh prediction is served within
  about a second of the refresh that made it rather than after the full TTL; or
* they are older than RESPONSE_CACHE_SECONDS (default 10; 0 turns the cache off), for changes
  made outside the pipeline (a hand-run ``dbt run``).

Only 200 answers are kept; at most MAX_ENTRIES URLs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, Response, request

logger = logging.getLogger(__name__)

MAX_ENTRIES = 512

# The newest end of any pipeline step or live round; running rows have no finished_at yet.
LAST_FINISHED_STEP = "select max(finished_at) as finished_at from {staging}.pipeline_runs"


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

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class WarehouseVersion:
    """Clears a cache when ``probe()`` (the last finished pipeline step) changes.

    One request at a time runs the probe, at most every ``check_seconds``; the others go on
    with the cache as it is. A failing probe (staging not reachable) leaves the cache to its
    TTL: the answers themselves come from the warehouse, which may still be up."""

    def __init__(self, cache: ResponseCache, probe: Callable[[], object],
                 check_seconds: float) -> None:
        self.cache = cache
        self.probe = probe
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version: object = None

    def check(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_seconds or not self._lock.acquire(blocking=False):
            return
        try:
            self._checked = now
            try:
                version = self.probe()
            except Exception:  # noqa: BLE001 - the TTL still bounds staleness
                logger.debug("pipeline_runs not readable; cache kept until its TTL", exc_info=True)
                return
            if version != self._version:
                if self._version is not None:
                    logger.info("warehouse refreshed (%s): response cache cleared", version)
                self.cache.clear()
                self._version = version
        finally:
            self._lock.release()


def last_finished_step():
    from api import db, queries

    rows = db.fetch_all(LAST_FINISHED_STEP.format(
        staging=queries.quoted_database(db.settings().mysql_staging_database)))
    return rows[0]["finished_at"] if rows else None


def init_app(app: Flask) -> None:
    ttl = float(app.config.get("RESPONSE_CACHE_SECONDS", 10))
    if ttl <= 0:
        return
    cache = ResponseCache(ttl)
    version = WarehouseVersion(cache, last_finished_step,
                               float(app.config.get("RESPONSE_CACHE_CHECK_SECONDS", 1.0)))
    app.extensions["cq_response_cache"] = version

    def cacheable() -> bool:
        return request.method == "GET" and request.path.startswith("/api/")

    @app.before_request
    def serve_cached():
        if cacheable():
            version.check()
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
