"""The OpenAPI 3.0 document of the JSON API, served at /openapi.json."""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)


def _param(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


SYMBOL = _param("symbol", "Symbol code such as BTCUSDT (see /api/symbols).",
                {"type": "string", "example": "BTCUSDT"}, required=True)
SYMBOL_OPTIONAL = {**SYMBOL, "required": False,
                   "description": "Symbol code; all symbols (scope ALL) when absent."}
INTERVAL = _param("interval", "Interval code such as 1h (default: the first of CQ_INTERVALS).",
                  {"type": "string", "example": "1h"})
START = _param("start", "Inclusive start, ISO 8601 date or date-time (UTC when no offset).",
               {"type": "string", "example": "2022-01-01T00:00:00"})
END = _param("end", "Exclusive end, ISO 8601 date or date-time.",
             {"type": "string", "example": "2022-05-01"})


def _limit(default: int, maximum: int = 5000) -> dict:
    return _param("limit", f"Maximum rows (1..{maximum}).",
                  {"type": "integer", "minimum": 1, "maximum": maximum, "default": default})


def _op(summary: str, parameters: list[dict], required_keys: list[str], tag: str) -> dict:
    return {"get": {
        "summary": summary, "tags": [tag], "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "required": required_keys}}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    }}


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "cryptoquant API", "version": "1.0.0",
                 "description": "Read-only JSON API over the cryptoquant warehouse. Times are "
                                "naive UTC in ISO 8601. Errors are JSON {\"error\": message}."},
        "paths": {
            "/api/symbols": _op("Symbols in the warehouse", [], ["symbols"], "reference"),
            "/api/intervals": _op("Kline intervals", [], ["intervals"], "reference"),
            "/api/klines": _op(
                "Candles with indicator values (newest `limit` in the range, oldest first)",
                [SYMBOL, INTERVAL, START, END, _limit(500),
                 _param("indicators", "Comma-separated indicator codes, 'all' or 'none' "
                        "(default: EMAs, Bollinger Bands, RSI).",
                        {"type": "string", "example": "ema_12,rsi_14"})],
                ["symbol", "interval", "klines"], "market"),
            "/api/signals/latest": _op(
                "Latest predictions per symbol: component scores, guard flags, action, reasons",
                [SYMBOL_OPTIONAL, INTERVAL, _limit(1, 500)], ["signals"], "signals"),
            "/api/trades": _op(
                "Backtested trades (fact_prediction_result), newest first",
                [SYMBOL, INTERVAL, START, END,
                 _param("outcome", "Comma-separated subset of WIN, LOSS, TIMEOUT, PENDING.",
                        {"type": "string", "example": "WIN,LOSS"}), _limit(500)],
                ["trades"], "backtest"),
            "/api/equity": _op("Equity curve and drawdown (per symbol or ALL)",
                               [SYMBOL_OPTIONAL, START, END, _limit(5000)],
                               ["scope", "equity"], "backtest"),
            "/api/performance/rolling": _op(
                "Rolling expectancy (R) and win rate over the last N closed trades",
                [SYMBOL_OPTIONAL, START, END, _limit(5000)], ["scope", "rolling"], "backtest"),
            "/api/regimes": _op("Market regime per candle",
                                [SYMBOL, INTERVAL, START, END, _limit(500)], ["regimes"],
                                "analytics"),
            "/api/regression": _op("Rolling price regression: fitted line, bands, slope, R²",
                                   [SYMBOL, INTERVAL, START, END, _limit(500)],
                                   ["regression"], "analytics"),
            "/api/rules": _op(
                "FP-Growth rules with consequent outcome=WIN",
                [_param("significant", "true: only rules significant at 5% FDR; false: only "
                        "the others; absent: all.", {"type": "string", "enum": ["true", "false"]}),
                 _limit(200)], ["rules"], "patterns"),
            "/api/freshness": _op("Last candle per series and the last pipeline run", [],
                                  ["series", "last_pipeline_run"], "operations"),
        },
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}}}},
            "responses": {
                "BadRequest": {"description": "Invalid parameter", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "Unavailable": {"description": "Warehouse unavailable or not built yet",
                                "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
