"""Request parameter parsing: every value is checked before it reaches a query.

Each helper raises ``BadRequest`` with a message that names the parameter; the error
handlers turn it into a 400 JSON answer.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import request
from werkzeug.exceptions import BadRequest

from api import queries
from api.db import dimensions, settings

_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_INTERVAL = re.compile(r"^[0-9]{1,3}[mhdwM]$")
_INDICATOR = re.compile(r"^[a-z0-9_]{1,40}$")
# Far enough apart for any real series, inside what MariaDB's DATETIME can hold.
MIN_TIME = dt.datetime(2000, 1, 1)
MAX_TIME = dt.datetime(2100, 1, 1)
OUTCOMES = ("WIN", "LOSS", "TIMEOUT", "PENDING")


def _raw(name: str) -> str | None:
    value = request.args.get(name)
    if value is None or value.strip() == "":
        return None
    if len(value) > 200:
        raise BadRequest(f"parameter {name!r} is too long")
    return value.strip()


def symbol(required: bool = True, name: str = "symbol") -> dict | None:
    """The dim_symbol row named by ?symbol= (400 when unknown)."""
    value = _raw(name)
    if value is None:
        if required:
            raise BadRequest(f"parameter {name!r} is required")
        return None
    value = value.upper()
    known = {r["symbol_code"]: r for r in dimensions().get("symbols", queries.SYMBOLS)}
    if not _SYMBOL.match(value) or value not in known:
        raise BadRequest(f"unknown symbol {value[:40]!r}; known symbols: {', '.join(known)}")
    return known[value]


def interval(name: str = "interval") -> dict:
    """The dim_interval row named by ?interval= (default: the first configured interval,
    CQ_INTERVALS, else the shortest in the warehouse)."""
    rows = dimensions().get("intervals", queries.INTERVALS)
    known = {r["interval_code"]: r for r in rows}
    value = _raw(name)
    if value is None:
        configured = [known[c] for c in settings().interval_list if c in known]
        if not configured and not rows:
            raise BadRequest("the warehouse has no intervals yet")
        return (configured or rows)[0]
    if not _INTERVAL.match(value) or value not in known:
        raise BadRequest(f"unknown interval {value[:40]!r}; known intervals: {', '.join(known)}")
    return known[value]


def timestamp(name: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time; an offset is converted to naive UTC."""
    value = _raw(name)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"parameter {name!r}: {value[:40]!r} is not an ISO 8601 date or date-time"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    if not MIN_TIME <= parsed <= MAX_TIME:
        raise BadRequest(f"parameter {name!r} must be between {MIN_TIME:%Y} and {MAX_TIME:%Y}")
    return parsed


def time_range() -> tuple[dt.datetime, dt.datetime]:
    """[start, end) from ?start= and ?end= (open-ended when absent)."""
    start = timestamp("start") or MIN_TIME
    end = timestamp("end") or MAX_TIME
    if start >= end:
        raise BadRequest("parameter 'start' must be before 'end'")
    return start, end


def integer(name: str, default: int, low: int, high: int) -> int:
    value = _raw(name)
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise BadRequest(f"parameter {name!r} must be a whole number between {low} and {high}")
    number = int(value)
    if not low <= number <= high:
        raise BadRequest(f"parameter {name!r} must be between {low} and {high}, got {number}")
    return number


def boolean(name: str) -> bool | None:
    value = _raw(name)
    if value is None:
        return None
    low = value.lower()
    if low in {"true", "1", "yes"}:
        return True
    if low in {"false", "0", "no"}:
        return False
    raise BadRequest(f"parameter {name!r} must be true or false")


def choices(name: str, allowed: tuple[str, ...]) -> list[str]:
    """A comma-separated subset of a fixed allow-list (all of it when absent)."""
    value = _raw(name)
    if value is None:
        return list(allowed)
    picked = [v.strip().upper() for v in value.split(",") if v.strip()]
    unknown = [v for v in picked if v not in allowed]
    if unknown or not picked:
        raise BadRequest(f"parameter {name!r} accepts {', '.join(allowed)}")
    return picked


def indicator_codes(default: tuple[str, ...]) -> list[str]:
    """Indicator codes from ?indicators= (comma-separated, 'all' or 'none')."""
    value = request.args.get("indicators")
    known = [r["indicator_code"] for r in dimensions().get("indicators", queries.INDICATOR_TYPES)]
    if value is None:
        return [c for c in default if c in known]
    value = value.strip().lower()
    if value in {"", "none"}:
        return []
    if value == "all":
        return known
    codes = [c.strip() for c in value.split(",") if c.strip()]
    bad = [c for c in codes if not _INDICATOR.match(c) or c not in known]
    if bad or len(codes) > 40:
        raise BadRequest(
            f"unknown indicator {bad[0][:40] if bad else ''!r}; known: {', '.join(known)}"
        )
    return list(dict.fromkeys(codes))
