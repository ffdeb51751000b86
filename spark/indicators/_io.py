"""The indicator job's own I/O, done inside each Spark task: read one series' candles from
fact_kline, load its wide rows into the run's staging table; and, on the driver, that staging
table's life (created before the Spark job, merged into indicator_values in one statement,
dropped).

The reader and the writer are small picklable objects holding only ``Settings`` (without the
credentials a task does not use): Spark ships them to the Python workers with the task, and
each task opens its own connections (on a cluster the executors reach the database themselves).

* Reader: ``connectorx`` reads the query's result straight into Arrow (Rust; no Python object
  per value). On the bundled 1h BTCUSDT series (23,988 candles) it took 0.06 s against 0.45 s
  for pymysql's unbuffered cursor plus the Arrow build.
* Writer: Arrow's CSV writer (C++) turns the wide rows into LOAD DATA text: doubles in their
  shortest round-trip digits (MariaDB's DOUBLE parses them back exactly), null as ``\\N``,
  flags as 0/1, times as naive UTC. ``loaders.sinks`` builds the same dialect from Python tuples
  for Kafka batches; a series' Arrow columns need no trip through Python objects, so only the
  LOAD DATA statement (``cryptoquant.db.load_data_sql``) is shared. A series' rows are deleted and loaded in one transaction,
  so a retried task replaces what an earlier attempt left, and a failed one leaves nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import urllib.parse
import uuid

import pyarrow as pa
import pyarrow.csv as pacsv
import pymysql

from cryptoquant import db
from cryptoquant.config import Settings
from spark.indicators import _store

logger = logging.getLogger(__name__)

# What a task reads per candle: numeric only (the series is named by its plan).
INPUT_SCHEMA = pa.schema([
    ("symbol_id", pa.int64()), ("interval_id", pa.int64()),
    ("open_time", pa.timestamp("us", tz="UTC")),
    *((c, pa.float64()) for c in ("open", "high", "low", "close", "volume"))])
INPUT_COLUMNS = INPUT_SCHEMA.names

_TRANSIENT = {1205, 1213}  # lock wait timeout, deadlock: the transaction can simply run again
_ATTEMPTS = 3
_CSV = pacsv.WriteOptions(include_header=False, delimiter="\t", null_string="\\N",
                          quoting_style="none")


def task_settings(settings: Settings) -> Settings:
    """``settings`` as a task carries them: the application user only (the admin and read-only
    passwords stay on the driver)."""
    return settings.replace(mysql_admin_password="", mysql_readonly_password="")


def kline_query(p: _store.SeriesPlan) -> str:
    """One series' candles: up to the planned last one (so the count read equals the plan),
    from the warm-up start in an incremental run; DECIMAL prices as doubles."""
    cond = (f"symbol_id = {int(p.symbol_id)} and interval_id = {int(p.interval_id)} "
            f"and open_time <= '{p.last_open_time:%Y-%m-%d %H:%M:%S}'")
    if p.mode == "incremental":
        cond += f" and open_time >= '{p.start_time:%Y-%m-%d %H:%M:%S}'"
    return ("select symbol_id, interval_id, open_time, cast(open as double) as open, "
            "cast(high as double) as high, cast(low as double) as low, "
            "cast(close as double) as close, cast(volume as double) as volume "
            f"from fact_kline where {cond}")


class KlineReader:
    """plan -> that series' candles from the warehouse's fact_kline (INPUT_SCHEMA, any order)."""

    def __init__(self, settings: Settings):
        self.settings = task_settings(settings)

    def url(self) -> str:
        s = self.settings
        user, password = (urllib.parse.quote(v, safe="") for v in (s.mysql_user,
                                                                   s.mysql_password))
        return (f"mysql://{user}:{password}@{s.mysql_host}:{s.mysql_port}/"
                f"{s.mysql_warehouse_database}")

    def __call__(self, plan: _store.SeriesPlan) -> pa.Table:
        import connectorx

        table = connectorx.read_sql(self.url(), kline_query(plan), return_type="arrow")
        return table.select(INPUT_COLUMNS).cast(INPUT_SCHEMA)


def _load_sql(table: str, columns: list[str]) -> str:
    return db.load_data_sql(f"`{table}`", [f"`{c}`" for c in columns],
                            f" set `{_store.COMPUTED_AT}` = %s")


def _delete_series(cur, table: str, plan: _store.SeriesPlan) -> None:
    cur.execute(f"delete from `{table}` where symbol = %s and interval_code = %s", plan.key)


class StagingWriter:
    """(plan, wide rows) -> the rows loaded into the run's staging table, stamped with the
    run's ``computed_at``; the series' earlier rows there (an earlier attempt) replaced."""

    def __init__(self, settings: Settings, table: str, computed_at: dt.datetime):
        self.settings, self.table = task_settings(settings), table
        self.computed_at = computed_at

    def __call__(self, plan: _store.SeriesPlan, rows: pa.RecordBatch) -> int:
        columns = rows.schema.names
        arrays = [a.cast(pa.int8()) if pa.types.is_boolean(a.type)
                  else a.cast(pa.timestamp("us")) if pa.types.is_timestamp(a.type) else a
                  for a in rows.columns]
        fd, path = tempfile.mkstemp(prefix="cq-indicators-", suffix=".tsv")
        os.close(fd)
        try:
            pacsv.write_csv(pa.Table.from_arrays(arrays, names=columns), path, _CSV)
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    self._load(plan, columns, path, rows.num_rows)
                    break
                except pymysql.err.OperationalError as exc:
                    if exc.args[0] not in _TRANSIENT or attempt == _ATTEMPTS:
                        raise
                    logger.warning("%s/%s: %s; loading again", *plan.key, exc.args[-1])
        finally:
            os.unlink(path)
        return rows.num_rows

    def _load(self, plan: _store.SeriesPlan, columns: list[str], path: str, count: int) -> None:
        """One transaction: the series' rows of an earlier attempt out, this file's in. Read
        committed and a plain read before the delete: the first attempt, finding none, takes no
        gap lock that a concurrent task's load next to it could deadlock on."""
        with db.connection(self.settings, self.settings.mysql_staging_database) as conn, \
                conn.cursor() as cur:
            cur.execute("set session transaction isolation level read committed")
            cur.execute(f"select 1 from `{self.table}` where symbol = %s and "
                        "interval_code = %s limit 1", plan.key)
            if cur.fetchone():
                _delete_series(cur, self.table, plan)
            loaded = cur.execute(_load_sql(self.table, columns), (path, self.computed_at))
            if loaded != count or cur.warning_count:
                raise RuntimeError(f"LOAD DATA took {loaded} of {count} rows with "
                                   f"{cur.warning_count} warning(s)")
            conn.commit()


def create_staging(settings: Settings, codes: list[str]) -> str:
    """A new staging table for one run: indicator_values' columns for ``codes`` and its key."""
    name = f"_stg_{_store.VALUES_TABLE}_{uuid.uuid4().hex[:10]}"
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(_store.values_ddl(codes, name, index=False))
    return name


def discard_series(settings: Settings, staging: str, plans: list[_store.SeriesPlan]) -> None:
    """Take failed series out of the staging table before the merge: an attempt of their task
    may have loaded rows before a re-run of it failed (a task re-run when its executor is lost)."""
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        for p in plans:
            _delete_series(cur, staging, p)


def merge_staging(settings: Settings, staging: str, columns: list[str]) -> None:
    """The run's rows into indicator_values in one statement (``spark.session.merge_sql``):
    computed_at moves only where a value or flag changed."""
    from spark.session import merge_sql

    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(merge_sql(_store.VALUES_TABLE, staging, [*columns, _store.COMPUTED_AT],
                              _store.KEY_COLUMNS, [_store.COMPUTED_AT]))


def drop_staging(settings: Settings, staging: str) -> None:
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"drop table if exists `{staging}`")
