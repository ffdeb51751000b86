"""The JSON API under /api/ (described in api/openapi.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from flask import Blueprint, jsonify
from werkzeug.exceptions import BadRequest

from api import params, queries
from api.db import dimensions, fetch_all, settings

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_INDICATORS = ("ema_12", "ema_26", "ema_50", "bb_upper", "bb_middle", "bb_lower",
                      "rsi_14")
MAX_ROWS = 5000
# (name in the answer, flag column, reason column) of each guard of fact_prediction.
GUARDS = (("conflict", "is_conflict", "conflict_reason"),
          ("weak_edge", "is_weak_edge", "weak_edge_reason"),
          ("outside_confidence_band", "is_outside_confidence_band", "confidence_band_reason"),
          ("no_trade", "is_no_trade", "no_trade_reason"))


@bp.get("/symbols")
def symbols():
    rows = dimensions().get("symbols", queries.SYMBOLS)
    return jsonify(symbols=[
        {"symbol": r["symbol_code"], "base_asset": r["base_asset"],
         "quote_asset": r["quote_asset"]} for r in rows
    ])


@bp.get("/intervals")
def intervals():
    rows = dimensions().get("intervals", queries.INTERVALS)
    return jsonify(intervals=[
        {"interval": r["interval_code"], "seconds": r["interval_seconds"]} for r in rows
    ])


@bp.get("/klines")
def klines():
    sym, ivl = params.symbol(), params.interval()
    start, end = params.time_range()
    limit = params.integer("limit", 500, 1, MAX_ROWS)
    codes = params.indicator_codes(DEFAULT_INDICATORS)
    rows = fetch_all(queries.KLINES, (sym["symbol_id"], ivl["interval_id"], start, end, limit))
    rows.reverse()
    by_time: dict[dt.datetime, dict] = defaultdict(dict)
    if rows and codes:
        sql = queries.INDICATORS.format(codes=queries.placeholders(len(codes)))
        values = fetch_all(sql, (sym["symbol_id"], ivl["interval_id"], rows[0]["open_time"],
                                 rows[-1]["open_time"], *codes))
        for v in values:
            by_time[v["open_time"]][v["indicator_code"]] = v["indicator_value"]
    for r in rows:
        r["is_placeholder_candle"] = bool(r["is_placeholder_candle"])
        r["indicators"] = {c: by_time[r["open_time"]].get(c) for c in codes}
    return jsonify(symbol=sym["symbol_code"], interval=ivl["interval_code"], indicators=codes,
                   count=len(rows), klines=rows)


def _symbol_ids(sym: dict | None) -> list[int]:
    if sym is not None:
        return [sym["symbol_id"]]
    return [r["symbol_id"] for r in dimensions().get("symbols", queries.SYMBOLS)]


@bp.get("/signals/latest")
def latest_signals():
    sym, ivl = params.symbol(required=False), params.interval()
    limit = params.integer("limit", 1, 1, 500)
    ids = _symbol_ids(sym)
    rows = []
    if ids:
        sql = queries.LATEST_SIGNALS.format(symbols=queries.placeholders(len(ids)))
        rows = fetch_all(sql, (ivl["interval_id"], *ids, limit))
    for r in rows:
        r["guards"] = {name: {"active": bool(r.pop(flag)), "reason": r.pop(reason)}
                       for name, flag, reason in GUARDS}
    return jsonify(interval=ivl["interval_code"], count=len(rows), signals=rows)


@bp.get("/trades")
def trades():
    sym, ivl = params.symbol(), params.interval()
    start, end = params.time_range()
    outcomes = params.choices("outcome", params.OUTCOMES)
    limit = params.integer("limit", 500, 1, MAX_ROWS)
    sql = queries.TRADES.format(outcomes=queries.placeholders(len(outcomes)))
    rows = fetch_all(sql, (sym["symbol_id"], ivl["interval_id"], start, end, *outcomes, limit))
    for r in rows:
        r["is_closed"] = bool(r["is_closed"])
    return jsonify(symbol=sym["symbol_code"], interval=ivl["interval_code"], count=len(rows),
                   trades=rows)


def _scope() -> str:
    sym = params.symbol(required=False)
    return "ALL" if sym is None else sym["symbol_code"]


@bp.get("/equity")
def equity():
    scope = _scope()
    start, end = params.time_range()
    limit = params.integer("limit", MAX_ROWS, 1, MAX_ROWS)
    rows = fetch_all(queries.EQUITY, (scope, start, end, limit))
    max_dd = min((r["drawdown_pct"] for r in rows if r["drawdown_pct"] is not None), default=None)
    return jsonify(scope=scope, count=len(rows), max_drawdown_pct=max_dd, equity=rows)


@bp.get("/performance/rolling")
def rolling_performance():
    scope = _scope()
    start, end = params.time_range()
    limit = params.integer("limit", MAX_ROWS, 1, MAX_ROWS)
    rows = fetch_all(queries.ROLLING, (scope, start, end, limit))
    return jsonify(scope=scope, count=len(rows), rolling=rows)


def _series(sql: str, key: str, default_limit: int = 500):
    sym, ivl = params.symbol(), params.interval()
    start, end = params.time_range()
    limit = params.integer("limit", default_limit, 1, MAX_ROWS)
    rows = fetch_all(sql, (sym["symbol_id"], ivl["interval_id"], start, end, limit))
    rows.reverse()
    return jsonify(symbol=sym["symbol_code"], interval=ivl["interval_code"], count=len(rows),
                   **{key: rows})


@bp.get("/regimes")
def regimes():
    return _series(queries.REGIMES, "regimes")


@bp.get("/regression")
def regression():
    return _series(queries.REGRESSION, "regression")


@bp.get("/rules")
def rules():
    significant = params.boolean("significant")
    limit = params.integer("limit", 200, 1, MAX_ROWS)
    flags = (1,) if significant else (0, 1) if significant is None else (0,)
    sql = queries.RULES.format(significance=queries.placeholders(len(flags)))
    rows = fetch_all(sql, (*flags, limit))
    for r in rows:
        r["is_significant"] = bool(r["is_significant"])
        for side in ("antecedent", "consequent"):
            r[side] = _items(r[side])
    return jsonify(count=len(rows), rules=rows)


def _items(value) -> list[str]:
    if isinstance(value, list):
        return value
    try:
        items = json.loads(value)
    except (TypeError, ValueError):
        return [str(value)]
    return items if isinstance(items, list) else [str(items)]


@bp.get("/freshness")
def freshness():
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    series = fetch_all(queries.LAST_CANDLES)
    for r in series:
        lag = (now - r["last_open_time"]).total_seconds() - r["interval_seconds"]
        r["lag_seconds"] = round(max(lag, 0.0), 1)
    staging = queries.quoted_database(settings().mysql_staging_database)
    steps = fetch_all(queries.LAST_PIPELINE_RUN.format(staging=staging))
    run = None
    if steps:
        statuses = {s["status"] for s in steps}
        status = "failed" if "failed" in statuses else (
            "running" if "running" in statuses else "success")
        run = {"run_id": steps[0]["run_id"], "status": status,
               "started_at": steps[0]["started_at"],
               "finished_at": max((s["finished_at"] for s in steps if s["finished_at"]),
                                  default=None),
               "steps": [{k: s[k] for k in ("step", "status", "started_at", "finished_at")}
                         for s in steps]}
    return jsonify(now=now, series=series, last_pipeline_run=run)


@bp.errorhandler(BadRequest)
def bad_request(exc: BadRequest):
    return jsonify(error=exc.description), 400
