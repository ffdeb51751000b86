"""Tables the indicator job owns in the staging database, and the per-series plan it derives
from them (full recompute, incremental tail, or nothing to do)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptoquant import db
from cryptoquant.config import Settings
from spark.indicators.config import IndicatorSpec, config_fingerprint, warmup_candles

VALUES_TABLE = "indicator_values"
STATE_TABLE = "indicator_state"

DDL = (
    f"""create table if not exists {VALUES_TABLE} (
    symbol            varchar(20) not null,
    interval_code     varchar(8)  not null,
    indicator_code    varchar(32) not null,
    open_time         datetime    not null comment 'open of the candle the value belongs to, UTC',
    value             double      not null,
    is_gap_in_window  tinyint(1)  not null default 0
        comment '1: a missing candle lies inside the value''s nominal window',
    computed_at       datetime(3) not null comment 'when the value was last changed, UTC',
    primary key (symbol, interval_code, indicator_code, open_time),
    key ix_indicator_values_computed_at (computed_at)
) engine = InnoDB default charset = utf8mb4""",
    f"""create table if not exists {STATE_TABLE} (
    symbol                varchar(20) not null,
    interval_code         varchar(8)  not null,
    last_open_time        datetime    not null comment 'newest candle computed, UTC',
    candles_through_last  bigint      not null comment 'candles up to last_open_time then',
    config_fingerprint    char(16)    not null comment 'hash of the indicator configuration',
    warmup_candles        int         not null,
    computed_at           datetime(3) not null,
    primary key (symbol, interval_code)
) engine = InnoDB default charset = utf8mb4""",
)


# fact_indicator loads what changed since its newest computed_at: an index range, not a scan
# of every value. Tables created before the index existed get it here (checked first: MySQL
# has no `add index if not exists`).
COMPUTED_AT_INDEX = "ix_indicator_values_computed_at"


def ensure_tables(settings: Settings) -> None:
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        for statement in DDL:
            cur.execute(statement)
        cur.execute("select count(*) from information_schema.statistics where table_schema = "
                    "database() and table_name = %s and index_name = %s",
                    (VALUES_TABLE, COMPUTED_AT_INDEX))
        if cur.fetchone()[0] == 0:
            cur.execute(f"alter table {VALUES_TABLE} add index {COMPUTED_AT_INDEX} (computed_at)")


@dataclass
class SeriesPlan:
    symbol: str
    interval_code: str
    symbol_id: int
    interval_id: int
    interval_seconds: int
    candles: int
    last_open_time: dt.datetime
    mode: str = "full"  # full | incremental | up_to_date
    reason: str = ""
    start_time: dt.datetime | None = None  # incremental: first candle read (warm-up start)
    watermark: dt.datetime | None = None  # incremental: only values after it are written
    seeds: dict[str, tuple[dt.datetime, float]] = field(default_factory=dict)
    candles_to_read: int = 0

    def __post_init__(self) -> None:
        self.candles_to_read = self.candles

    @property
    def key(self) -> tuple[str, str]:
        return (self.symbol, self.interval_code)


SERIES_SQL = """
select s.symbol_code, i.interval_code, k.symbol_id, k.interval_id, i.interval_seconds,
       count(*) as candles, max(k.open_time) as last_open_time
from fact_kline k
join dim_symbol s on s.symbol_id = k.symbol_id
join dim_interval i on i.interval_id = k.interval_id
{where}
group by s.symbol_code, i.interval_code, k.symbol_id, k.interval_id, i.interval_seconds
order by s.symbol_code, i.interval_code
"""


def plan_series(settings: Settings, specs: list[IndicatorSpec], full_refresh: bool = False,
                symbols: list[str] | None = None) -> list[SeriesPlan]:
    """One plan per (symbol, interval) in fact_kline (optionally only ``symbols``)."""
    where, args = "", []
    if symbols:
        where = "where s.symbol_code in (" + ", ".join(["%s"] * len(symbols)) + ")"
        args = [s.upper() for s in symbols]
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(SERIES_SQL.format(where=where), args)
        plans = [SeriesPlan(*row) for row in cur.fetchall()]
    if full_refresh:
        for p in plans:
            p.reason = "--full-refresh"
        return plans
    fingerprint = config_fingerprint(specs)
    cumulative = [s.code for s in specs if s.is_cumulative]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select symbol, interval_code, last_open_time, candles_through_last, "
                    f"config_fingerprint from {STATE_TABLE}")
        state = {(r[0], r[1]): r[2:] for r in cur.fetchall()}
    with db.warehouse(settings) as wconn, wconn.cursor() as wcur, \
            db.staging(settings) as sconn, sconn.cursor() as scur:
        for p in plans:
            _plan_one(p, state.get(p.key), fingerprint, specs, cumulative, wcur, scur)
    return plans


def _plan_one(p: SeriesPlan, state, fingerprint: str, specs, cumulative, wcur, scur) -> None:
    if state is None:
        p.reason = "never computed"
        return
    last, through, stored_fp = state
    if stored_fp != fingerprint:
        p.reason = "indicator configuration changed"
        return
    ids = (p.symbol_id, p.interval_id)
    wcur.execute("select count(*) from fact_kline where symbol_id = %s and interval_id = %s "
                 "and open_time <= %s", (*ids, last))
    (now_through,) = wcur.fetchone()
    if now_through != through:
        p.reason = f"history changed ({through} -> {now_through} candles up to {last})"
        return
    if p.last_open_time <= last:
        p.mode, p.reason, p.candles_to_read = "up_to_date", f"no candle after {last}", 0
        return
    warmup = warmup_candles(specs, p.interval_seconds)
    wcur.execute("select open_time from fact_kline where symbol_id = %s and interval_id = %s "
                 "and open_time <= %s order by open_time desc limit 1 offset %s",
                 (*ids, last, warmup - 1))
    row = wcur.fetchone()
    if row is None:
        p.reason = f"shorter than the warm-up ({warmup} candles)"
        return
    if cumulative:
        scur.execute(
            f"select indicator_code, value from {VALUES_TABLE} where symbol = %s and "
            "interval_code = %s and open_time = %s and indicator_code in ("
            + ", ".join(["%s"] * len(cumulative)) + ")",
            (p.symbol, p.interval_code, last, *cumulative))
        seeds = {code: (last, value) for code, value in scur.fetchall()}
        if set(seeds) != set(cumulative):
            p.reason = f"stored seed missing for {sorted(set(cumulative) - set(seeds))}"
            return
        p.seeds = seeds
    p.mode, p.start_time, p.watermark = "incremental", row[0], last
    p.candles_to_read = warmup + (p.candles - now_through)
    p.reason = f"{warmup} warm-up candles up to {last}"


def save_state(settings: Settings, plans: list[SeriesPlan], specs: list[IndicatorSpec],
               computed_at: dt.datetime) -> None:
    fingerprint = config_fingerprint(specs)
    rows = [(p.symbol, p.interval_code, p.last_open_time, p.candles, fingerprint,
             warmup_candles(specs, p.interval_seconds), computed_at) for p in plans]
    if not rows:
        return
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.executemany(
            f"insert into {STATE_TABLE} (symbol, interval_code, last_open_time, "
            "candles_through_last, config_fingerprint, warmup_candles, computed_at) values "
            "(%s, %s, %s, %s, %s, %s, %s) on duplicate key update "
            "last_open_time = values(last_open_time), "
            "candles_through_last = values(candles_through_last), "
            "config_fingerprint = values(config_fingerprint), "
            "warmup_candles = values(warmup_candles), computed_at = values(computed_at)", rows)
        conn.commit()
