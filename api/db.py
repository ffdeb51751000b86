"""The request's warehouse connection (read-only user), cached on ``g`` and closed on teardown."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask, current_app, g

from cryptoquant import db
from cryptoquant.config import Settings

logger = logging.getLogger(__name__)


def settings() -> Settings:
    return current_app.config["CQ_SETTINGS"]


def get_db():
    """The read-only warehouse connection of this request (opened on first use)."""
    if "db" not in g:
        s = settings()
        g.db = db.connect(s, s.mysql_warehouse_database, role="readonly", autocommit=True,
                          dict_rows=True)
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        try:
            conn.close()
        except Exception:  # a broken connection is being dropped anyway
            logger.debug("closing the warehouse connection failed", exc_info=True)


def fetch_all(sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
    with get_db().cursor() as cur:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())


class DimensionCache:
    """Small seed-driven dimensions (symbols, intervals, indicator types), kept for a few
    seconds so that validating a request costs no query."""

    def __init__(self, ttl_seconds: float = 30.0) -> None:
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, list[dict]]] = {}

    def get(self, name: str, sql: str) -> list[dict]:
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(name)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        rows = fetch_all(sql)
        with self._lock:
            self._values[name] = (now, rows)
        return rows


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    app.extensions["cq_dimensions"] = DimensionCache(app.config.get("DIMENSION_TTL_SECONDS", 30))


def dimensions() -> DimensionCache:
    return current_app.extensions["cq_dimensions"]
