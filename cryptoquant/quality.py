"""Closing data-quality check of a warehouse run (the last task of ``cryptoquant_warehouse``).

dbt's own tests run beside every model (Cosmos runs them after each one). This check looks
across layers, which a single dbt test cannot: the warehouse must have caught up with what
landed in staging (for every series the latest candle in ``raw_klines`` is in ``fact_kline``),
``fact_kline`` must hold each candle once, and the indicator fact must not be empty when there
are candles. Rejected messages in ``dead_letter`` are reported, not failed on: they are the
loaders' way of keeping bad input out.
"""

from __future__ import annotations

import logging

from cryptoquant import db
from cryptoquant.config import Settings

logger = logging.getLogger(__name__)


class DataQualityError(RuntimeError):
    """The warehouse failed a cross-layer check; the message lists every failure."""


def check_warehouse(settings: Settings) -> dict:
    """Run the checks; returns a summary, raises DataQualityError listing all failures."""
    wh, st = settings.mysql_warehouse_database, settings.mysql_staging_database
    failures: list[str] = []
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select symbol, interval_code, max(open_time) from `{st}`.raw_klines "
                    "group by symbol, interval_code")
        landed = {(s, i): t for s, i, t in cur.fetchall()}
        cur.execute(
            f"select s.symbol_code, i.interval_code, max(f.open_time), count(*) "
            f"from `{wh}`.fact_kline f join `{wh}`.dim_symbol s on s.symbol_id = f.symbol_id "
            f"join `{wh}`.dim_interval i on i.interval_id = f.interval_id "
            "group by s.symbol_code, i.interval_code"
        )
        built = {(s, i): (t, n) for s, i, t, n in cur.fetchall()}
        for key, latest in sorted(landed.items()):
            got = built.get(key, (None, 0))[0]
            if got != latest:
                failures.append(f"fact_kline {key[0]} {key[1]}: latest candle {got}, "
                                f"staging has {latest}")
        cur.execute(
            f"select count(*) from (select 1 from `{wh}`.fact_kline "
            "group by symbol_id, interval_id, open_time having count(*) > 1) d"
        )
        duplicates = cur.fetchone()[0]
        if duplicates:
            failures.append(f"fact_kline has {duplicates} duplicated candles")
        candles = sum(n for _, n in built.values())
        cur.execute(f"select count(*) from `{wh}`.fact_indicator")
        indicators = cur.fetchone()[0]
        if candles and not indicators:
            failures.append("fact_indicator is empty although fact_kline has candles")
        cur.execute(f"select count(*) from `{st}`.dead_letter")
        dead_letters = cur.fetchone()[0]
    summary = {"series": len(built), "candles": candles, "indicator_values": indicators,
               "dead_letters": dead_letters}
    if failures:
        raise DataQualityError("; ".join(failures))
    if dead_letters:
        logger.warning("%d messages in %s.dead_letter", dead_letters, st)
    logger.info("data quality ok: %s", summary)
    return summary
