"""Tables the indicator job owns in the staging database, and the per-series plan it derives
from them (full recompute, incremental tail, or nothing to do).

``indicator_values`` is wide: one row per candle (key symbol, interval_code, open_time), a
``double`` column per indicator named by its code (null where the value is undefined) and a
gap flag ``is_gap_in_window__<code>`` per indicator (null with its value), and one
``computed_at`` for the row. dbt's ``stg_spark__indicator_values`` unpivots it. A code added
to the configuration gets its two columns on the job's next run; columns of codes switched off
stay, with their last values. Tables from before this layout (one row per value, column
``indicator_code``) are converted in place on the job's next run (``migrate_long_table``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptoquant import db
from cryptoquant.config import Settings
from spark.indicators.config import IndicatorSpec, config_fingerprint, warmup_candles

logger = logging.getLogger(__name__)

VALUES_TABLE = "indicator_values"
STATE_TABLE = "indicator_state"
KEY_COLUMNS = ("symbol", "interval_code", "open_time")
COMPUTED_AT = "computed_at"
GAP_PREFIX = "is_gap_in_window__"
LONG_MARKER = "indicator_code"  # a column only the earlier long layout has
# fact_indicator loads what changed since its newest computed_at: an index range, not a scan.
COMPUTED_AT_INDEX = "ix_indicator_values_computed_at"


def value_column(code: str) -> str:
    """The column of an indicator's values: its code (what dbt's unpivot looks up)."""
    return code


def gap_column(code: str) -> str:
    """The column of an indicator's gap flags."""
    return f"{GAP_PREFIX}{code}"


def value_columns(codes: Iterable[str]) -> list[str]:
    """The indicator columns of a row, in table order: every value, then every gap flag."""
    codes = list(codes)
    for code in codes:
        if not (code.isascii() and code.replace("_", "").isalnum()) \
                or code in (*KEY_COLUMNS, COMPUTED_AT, LONG_MARKER) \
                or code.startswith(GAP_PREFIX) or len(gap_column(code)) > 64:
            raise ValueError(f"indicator code {code!r} cannot name a column of {VALUES_TABLE} "
                             f"(letters, digits and _, at most {64 - len(GAP_PREFIX)} "
                             f"characters, not {GAP_PREFIX}..., none of "
                             f"{[*KEY_COLUMNS, COMPUTED_AT, LONG_MARKER]})")
    return [value_column(c) for c in codes] + [gap_column(c) for c in codes]


def _column_ddl(column: str) -> str:
    if column.startswith(GAP_PREFIX):
        return (f"`{column}` tinyint(1) null comment '1: a missing candle lies inside the "
                "value''s nominal window; null with the value'")
    return f"`{column}` double null"


def values_ddl(codes: Iterable[str], table: str = VALUES_TABLE, index: bool = True) -> str:
    """indicator_values' DDL for ``codes`` under the name ``table``; ``index=False`` leaves out
    the computed_at index (a run's staging table, read once by the merge, needs only the key)."""
    columns = ",\n    ".join(_column_ddl(c) for c in value_columns(codes))
    key = f",\n    key {COMPUTED_AT_INDEX} (computed_at)" if index else ""
    return f"""create table if not exists `{table}` (
    symbol            varchar(20) not null,
    interval_code     varchar(8)  not null,
    open_time         datetime    not null comment 'open of the candle, UTC',
    {columns},
    computed_at       datetime(3) not null
        comment 'when a value or flag of the row last changed, UTC',
    primary key (symbol, interval_code, open_time){key}
) engine = InnoDB default charset = utf8mb4"""


STATE_DDL = f"""create table if not exists {STATE_TABLE} (
    symbol                varchar(20) not null,
    interval_code         varchar(8)  not null,
    last_open_time        datetime    not null comment 'newest candle computed, UTC',
    candles_through_last  bigint      not null comment 'candles up to last_open_time then',
    config_fingerprint    char(16)    not null comment 'hash of the indicator configuration',
    warmup_candles        int         not null,
    computed_at           datetime(3) not null,
    primary key (symbol, interval_code)
) engine = InnoDB default charset = utf8mb4"""


def _columns(cur, table: str) -> list[str]:
    cur.execute("select column_name from information_schema.columns where table_schema = "
                "database() and table_name = %s order by ordinal_position", (table,))
    return [r[0].lower() for r in cur.fetchall()]


def ensure_tables(settings: Settings, specs: list[IndicatorSpec]) -> None:
    """Create the job's tables, convert a long ``indicator_values`` to the wide layout, and add
    the columns of codes the table does not have yet."""
    codes = [s.code for s in specs]
    value_columns(codes)  # every code can name a column
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(STATE_DDL)
        existing = _columns(cur, VALUES_TABLE)
        if LONG_MARKER in existing:
            migrate_long_table(cur, codes)
            existing = _columns(cur, VALUES_TABLE)
        if not existing:
            cur.execute(values_ddl(codes))
            return
        missing = [c for c in value_columns(codes) if c.lower() not in existing]
        if missing:  # at the end of the row: MariaDB adds them without copying the table
            cur.execute(f"alter table {VALUES_TABLE} "
                        + ", ".join(f"add column {_column_ddl(c)}" for c in missing))
            logger.info("%s: added columns %s", VALUES_TABLE, missing)


def migrate_long_table(cur, codes: list[str]) -> None:
    """Convert the long ``indicator_values`` (one row per value: ``indicator_code``, ``value``,
    ``is_gap_in_window``, ``computed_at``) to the wide layout, keeping every stored value (also
    of indicators no longer configured): one row per candle, each code's value and flag in its
    columns, the row's computed_at the newest of its values' (so dbt, which has loaded them,
    sees nothing new). Built beside the old table and swapped in with one ``rename table``.

    ``indicator_state`` is then emptied, so the next run recomputes every series in full from
    fact_kline: the recomputed rows overwrite the converted ones, and computed_at moves only
    where a value differs (none, when the old table was complete)."""
    cur.execute(f"select distinct indicator_code from {VALUES_TABLE}")
    stored = sorted(r[0] for r in cur.fetchall())
    all_codes = list(dict.fromkeys([*codes, *sorted(set(stored) - set(codes))]))
    has_gap = "is_gap_in_window" in _columns(cur, VALUES_TABLE)
    new, old = f"{VALUES_TABLE}__wide", f"{VALUES_TABLE}__long"
    cur.execute(f"drop table if exists `{new}`")  # left by a conversion that did not finish
    cur.execute(f"drop table if exists `{old}`")
    cur.execute(values_ddl(all_codes, new))
    picks = [f"max(case when indicator_code = '{c}' then value end)" for c in all_codes]
    picks += [f"max(case when indicator_code = '{c}' then "
              f"{'is_gap_in_window' if has_gap else 'null'} end)" for c in all_codes]
    columns = ", ".join(f"`{c}`" for c in (*KEY_COLUMNS, *value_columns(all_codes), COMPUTED_AT))
    cur.execute(f"insert into `{new}` ({columns}) select symbol, interval_code, open_time, "
                f"{', '.join(picks)}, max(computed_at) from {VALUES_TABLE} "
                "group by symbol, interval_code, open_time")
    rows = cur.rowcount
    cur.execute(f"rename table {VALUES_TABLE} to `{old}`, `{new}` to {VALUES_TABLE}")
    cur.execute(f"drop table `{old}`")
    cur.execute(f"delete from {STATE_TABLE}")
    logger.warning("converted %s to one row per candle (%d rows, codes %s); %s emptied: the "
                   "next run recomputes every series in full", VALUES_TABLE, rows, all_codes,
                   STATE_TABLE)


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
            "select " + ", ".join(f"`{value_column(c)}`" for c in cumulative)
            + f" from {VALUES_TABLE} where symbol = %s and interval_code = %s "
            "and open_time = %s", (p.symbol, p.interval_code, last))
        stored = scur.fetchone() or (None,) * len(cumulative)
        seeds = {code: (last, value) for code, value in zip(cumulative, stored, strict=True)
                 if value is not None}
        if set(seeds) != set(cumulative):
            p.reason = f"stored seed missing for {sorted(set(cumulative) - set(seeds))}"
            return
        p.seeds = seeds
    p.mode, p.start_time, p.watermark = "incremental", row[0], last
    p.candles_to_read = warmup + (p.candles - now_through)
    p.reason = f"{warmup} warm-up candles up to {last}"


def run_timestamp(settings: Settings) -> dt.datetime:
    """The ``computed_at`` of a run: now (UTC), or just after the newest stored one if the clock
    is behind it, so a run's rows are always newer than every earlier run's (dbt loads the rows
    newer than the newest it has)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select max(computed_at) from {VALUES_TABLE}")  # the index's last entry
        (newest,) = cur.fetchone()
    if newest is not None and newest >= now:
        return newest + dt.timedelta(milliseconds=1)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # datetime(3) keeps ms


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
