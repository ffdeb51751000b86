"""The app factory: configuration, JSON encoding, blueprints and JSON error answers."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from typing import Any

import pymysql
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from cryptoquant.config import get_settings
from cryptoquant.db import DatabaseUnavailable

logger = logging.getLogger(__name__)

# MySQL error numbers that mean "the warehouse is not built (yet)": unknown table or column.
_NOT_BUILT = {1146, 1054}


class WarehouseJSONProvider(DefaultJSONProvider):
    """Datetimes as ISO 8601 (naive UTC), decimals as numbers."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat(timespec="seconds")
        if isinstance(o, dt.date):
            return o.isoformat()
        if isinstance(o, decimal.Decimal):
            return float(o)
        return DefaultJSONProvider.default(o)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; ``test_config`` may carry ``CQ_SETTINGS`` (a Settings object)."""
    app = Flask(__name__)
    app.json = WarehouseJSONProvider(app)
    app.config.from_mapping(JSON_SORT_KEYS=False, DIMENSION_TTL_SECONDS=30,
                            RESPONSE_CACHE_SECONDS=10)
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("CQ_SETTINGS", None)
    if app.config["CQ_SETTINGS"] is None:
        app.config["CQ_SETTINGS"] = get_settings()

    from api import cache, db, routes
    from api.dashboard import bp as dashboard_bp
    from api.openapi import bp as openapi_bp

    db.init_app(app)
    cache.init_app(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(openapi_bp)
    _register_errors(app)
    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    @app.errorhandler(DatabaseUnavailable)
    def db_unavailable(exc: DatabaseUnavailable):
        logger.error("warehouse unavailable: %s", exc)
        return jsonify(error="the warehouse database is unavailable"), 503

    @app.errorhandler(pymysql.err.MySQLError)
    def db_error(exc: pymysql.err.MySQLError):
        code = exc.args[0] if exc.args else None
        if code in _NOT_BUILT:
            logger.warning("warehouse table missing: %s", exc)
            return jsonify(error="this part of the warehouse is not built yet; "
                                 "run `cryptoquant pipeline run`"), 503
        logger.error("warehouse query failed: %s", exc)
        return jsonify(error="the warehouse query failed"), 503

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        logger.exception("unhandled error")
        return jsonify(error="internal error"), 500
