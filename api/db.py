"""The request's warehouse connection (read-only user), cached on ``g`` and closed on teardown."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import pymysql
from flask import Flask, current_app, g

from cryptoquant import db
from cryptoquant.config import Settings

logger = logging.getLogger(__name__)


def settings() -> Settings:
    return current_app.config["CQ_SETTINGS"]


class ConnectionPool:
    """Idle read-only connections kept for reuse, so a request does not pay for a new
    connection's handshake (at most ``size`` idle connections are kept)."""

    def __init__(self, settings: Settings, size: int = 8) -> None:
        self.settings = settings
        self.size = size
        self._idle: queue.LifoQueue = queue.LifoQueue()

    def acquire(self):
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                s = self.settings
                return db.connect(s, s.mysql_warehouse_database, role="readonly",
                                  autocommit=True, dict_rows=True)
            try:
                conn.ping(reconnect=False)
                return conn
            except pymysql.err.Error:
                _close_quietly(conn)

    def release(self, conn, broken: bool = False) -> None:
        if broken or self._idle.qsize() >= self.size:
            _close_quietly(conn)
        else:
            self._idle.put(conn)

    def close(self) -> None:
        while not self._idle.empty():
            _close_quietly(self._idle.get_nowait())


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # a broken connection is being dropped anyway
        logger.debug("closing a warehouse connection failed", exc_info=True)


def get_db():
    """The read-only warehouse connection of this request (taken from the pool on first use)."""
    if "db" not in g:
        g.db = current_app.extensions["cq_pool"].acquire()
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    """Teardown: give the request's connection back (dropped after a database error)."""
    conn = g.pop("db", None)
    if conn is not None:
        broken = isinstance(exc, pymysql.err.Error) or bool(g.pop("db_failed", False))
        current_app.extensions["cq_pool"].release(conn, broken=broken)


def fetch_all(sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
    try:
        with get_db().cursor() as cur:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
    except pymysql.err.Error:
        g.db_failed = True  # handled errors don't reach teardown: mark the connection
        raise


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
    app.extensions["cq_pool"] = ConnectionPool(app.config["CQ_SETTINGS"],
                                               app.config.get("DB_POOL_SIZE", 8))
    app.extensions["cq_dimensions"] = DimensionCache(app.config.get("DIMENSION_TTL_SECONDS", 30))


def dimensions() -> DimensionCache:
    return current_app.extensions["cq_dimensions"]
