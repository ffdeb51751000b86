"""The Spark indicator job: fact_kline -> staging.indicator_values, per (symbol, interval).

* Configuration: the warehouse table ``indicator_types`` (the dbt seed), so a new row is a new
  indicator. The arithmetic is ``spark.indicators.compute`` (TA-Lib + our VWAP), the same code
  research mode runs on a CSV file.
* Symbol-isolated, no shuffle: the candles are read one JDBC partition per (symbol, interval)
  and each partition goes once to a Python worker (``mapInArrow``), which computes the series
  alone and returns one wide row per candle (a value and a gap flag per indicator); an
  exception in one series is reported through an accumulator (in the summary and the log) and
  that series writes nothing, while the others are written.
* Wide, as stored: those rows go to ``indicator_values`` as they are (layout in ``_store``);
  dbt's ``stg_spark__indicator_values`` unpivots them to one row per value. Spark used to
  unpivot (19 rows per candle): half of the compute path's time, and 19x the rows to upsert.
* Incremental: ``indicator_state`` remembers the newest candle computed per series, how many
  candles led up to it and a fingerprint of the configuration. A run reads only the new candles
  plus a warm-up of W earlier candles (W = the longest warm-up of the configured indicators;
  2,964 candles for the default set, set by EMA(200): its seed is forgotten by a factor
  (1 - 2/201)^k, below 1e-12 after k = 2,765 candles plus its 199-candle lookback). OBV, a
  running sum from the series' first candle, is continued from its stored value instead;
  VWAP restarts each UTC day, within the warm-up. Changed configuration, changed history
  (candles inserted before the watermark) or a missing stored OBV mean a full recompute of that
  series; ``--full-refresh`` forces one. Measured on the bundled data: the tail equals a full
  recompute to 0 (RSI, EMA 12-50, MACD, ADX, DI, ATR, VWAP), 2e-14 (EMA 200), 3e-13 (bands,
  whose TA-Lib running sums depend on the start) relative; %B is compared in absolute terms
  (3e-11), being a unit-scale ratio that crosses 0.
* Idempotent: rows go through ``upsert_dataframe`` (staging table + one INSERT ... ON
  DUPLICATE KEY UPDATE, so a run's rows become visible at once); a run stamps its rows with
  one ``computed_at``, taken when it starts computing and newer than every stored one
  (``_store.run_timestamp``), and a row's ``computed_at`` only moves when one of its values or
  flags changes; an up-to-date series is not read at all, so a re-run writes nothing.
  Undefined values (warm-up of each indicator) are null. Rows are never deleted: columns of
  indicators switched off keep their values. The job holds the warehouse writer lock
  (``cryptoquant.writer_lock``) while it runs, so dbt never reads a run half-written.
* Gaps: computed as-is in candle order (see ``compute``); ``is_gap_in_window__<code>`` flags
  values whose window spans a missing candle.
* A table in the earlier long layout is converted on the next run, values kept, and that run
  recomputes every series in full (``_store.migrate_long_table``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pyarrow as pa
from pyspark.accumulators import AccumulatorParam

from cryptoquant.config import Settings
from spark.indicators import _store
from spark.indicators.compute import SeriesError, check_candles, gap_columns, indicator_columns
from spark.indicators.config import IndicatorSpec, load_config_db, warmup_candles

logger = logging.getLogger(__name__)

KEY_COLUMNS = list(_store.KEY_COLUMNS)
# What the Python worker receives per candle: numeric only (the series is named by its ids).
INPUT_COLUMNS = ["symbol_id", "interval_id", "open_time", "open", "high", "low", "close",
                 "volume"]
BATCH_ROWS = 100_000  # rows per Arrow batch back to the JVM (bounds its buffer per batch)


def wide_columns(specs: list[IndicatorSpec]) -> list[str]:
    """The per-series function's output columns: indicator_values' columns but computed_at."""
    return [*KEY_COLUMNS, *_store.value_columns(s.code for s in specs)]


def wide_schema(specs: list[IndicatorSpec]) -> str:
    """Schema of the per-series function's output: one row per candle, a value (null where
    undefined) and a gap flag column per indicator, named as in indicator_values."""
    types = ["string", "string", "timestamp"] + ["double"] * len(specs) + ["boolean"] * len(specs)
    return ", ".join(f"`{c}` {t}" for c, t in zip(wide_columns(specs), types, strict=True))


def _repeated(text: str, n: int) -> pa.Array:
    """``text`` n times as an Arrow string array, built from its buffers (no Python loop)."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype="int32") * len(data)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def series_wide(table: pa.Table, specs: list[IndicatorSpec],
                plan: _store.SeriesPlan) -> pa.RecordBatch:
    """One series' indicators as an Arrow batch of ``wide_schema`` rows, one per candle in time
    order (in an incremental run only the candles after the watermark); a value and its gap
    flag are null where the value is undefined (NaN in TA-Lib's output; an infinity, which
    MariaDB cannot store, counts as undefined too). Raises on a bad series
    (``check_candles``) or when the rows read are not the ones planned.

    ``table``: the series' candles (INPUT_COLUMNS, any order), as Spark hands them to
    ``mapInArrow`` or as pyarrow reads them from Parquet."""
    if plan.candles_to_read and table.num_rows != plan.candles_to_read:
        raise SeriesError(f"{table.num_rows} candles read, {plan.candles_to_read} planned "
                          "(the series changed while read, or was split across partitions)")
    stamps = table.column("open_time").cast(pa.int64())  # microseconds since the epoch, UTC
    if stamps.null_count:
        raise SeriesError(f"{stamps.null_count} candle(s) with no open time")
    times = (stamps.to_numpy() * 1000).view("datetime64[ns]")
    candles = check_candles(times, *(table.column(c).to_numpy() for c in INPUT_COLUMNS[3:]))
    values = indicator_columns(candles, specs, plan.seeds or None)
    gaps = gap_columns(candles.open_time, specs, plan.interval_seconds)
    keep = slice(None)
    if plan.watermark is not None:
        keep = candles.open_time > np.datetime64(plan.watermark, "ns")
    micros = candles.open_time.view("int64")[keep] // 1000
    n = len(micros)
    arrays = [_repeated(plan.symbol, n), _repeated(plan.interval_code, n),
              pa.array(micros, type=pa.timestamp("us", tz="UTC"))]
    kept = [values[s.code][keep] for s in specs]
    undefined = [~np.isfinite(v) for v in kept]
    arrays += [pa.array(v, mask=m) for v, m in zip(kept, undefined, strict=True)]
    arrays += [pa.array(gaps[s.code][keep], mask=m) for s, m in zip(specs, undefined,
                                                                    strict=True)]
    return pa.RecordBatch.from_arrays(arrays, names=wide_columns(specs))


class _MergeDicts(AccumulatorParam):
    """Accumulator of {"SYMBOL/interval": error message} reported by the Python workers."""

    def zero(self, value):
        return {}

    def addInPlace(self, value1, value2):
        value1.update(value2)
        return value1


def make_partition_function(specs: list[IndicatorSpec], plans: list[_store.SeriesPlan],
                            errors=None):
    """The function ``mapInArrow`` runs on each partition: its candles (each series whole
    within the partition; one series per partition as ``read_candles`` lays them out) -> one
    wide row per candle. A series that raises adds ``{"SYMBOL/interval": message}`` to the
    ``errors`` accumulator and yields nothing; the other series are still computed."""
    index = {(p.symbol_id, p.interval_id): p for p in plans}

    def run(batches):
        batches = [b for b in batches if b.num_rows]
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        keys = (table.column("symbol_id").to_numpy().astype("int64") << 32) \
            | table.column("interval_id").to_numpy().astype("int64")
        distinct = np.unique(keys)
        for key in distinct:
            part = table if len(distinct) == 1 else table.filter(pa.array(keys == key))
            plan = index[(int(key >> 32), int(key & 0xFFFFFFFF))]
            try:
                out = series_wide(part, specs, plan)
            except Exception as exc:  # one broken series must not stop the others
                if errors is None:
                    raise
                message = f"{type(exc).__name__}: {exc}"[:2000]
                errors.add({f"{plan.symbol}/{plan.interval_code}": message})
                continue
            for start in range(0, out.num_rows, BATCH_ROWS):
                yield out.slice(start, BATCH_ROWS)

    return run


def compute_wide(candles, specs: list[IndicatorSpec], plans: list[_store.SeriesPlan],
                 errors=None):
    """Spark: candles (INPUT_COLUMNS, each series whole within one partition) -> one row per
    candle with a value and gap column per indicator, for the series that succeeded.

    No shuffle: ``read_candles`` reads one series per partition and each partition goes to
    Python once through ``mapInArrow`` (Arrow batches, no pandas conversion)."""
    return candles.select(*INPUT_COLUMNS).mapInArrow(
        make_partition_function(specs, plans, errors), wide_schema(specs))


def _series_predicate(p: _store.SeriesPlan) -> str:
    """The WHERE clause of one series' partition: its candles up to the planned last one (so
    the count read equals the plan), from the warm-up start in an incremental run."""
    cond = (f"symbol_id = {int(p.symbol_id)} and interval_id = {int(p.interval_id)} "
            f"and open_time <= '{p.last_open_time:%Y-%m-%d %H:%M:%S}'")
    if p.mode == "incremental":
        cond += f" and open_time >= '{p.start_time:%Y-%m-%d %H:%M:%S}'"
    return cond


KLINE_SUBQUERY = ("(select symbol_id, interval_id, open_time, cast(open as double) as open, "
                  "cast(high as double) as high, cast(low as double) as low, "
                  "cast(close as double) as close, cast(volume as double) as volume "
                  "from fact_kline) as k")


def read_candles(spark, settings: Settings, plans: list[_store.SeriesPlan]):
    """fact_kline's candles of the planned series, one JDBC partition (one query) per series:
    the layout ``compute_wide`` needs, with no shuffle; the partitions read in parallel."""
    from spark.session import jdbc_options

    options = jdbc_options(settings, settings.mysql_warehouse_database)
    url = options.pop("url")
    return spark.read.option("fetchsize", "20000").jdbc(
        url, KLINE_SUBQUERY, predicates=[_series_predicate(p) for p in plans],
        properties=options)


def run_indicators(settings: Settings, spark=None, full_refresh: bool = False,
                   symbols: list[str] | None = None,
                   specs: list[IndicatorSpec] | None = None) -> dict:
    """Compute and upsert indicator values; returns a summary (what ran, rows, failures).
    ``rows_written``: wide rows, one per candle computed (in an incremental run, per candle
    after the watermark).

    Holds the warehouse writer lock (re-entrant: the pipeline step and the live round already
    hold it), so that a run by hand never overlaps a dbt run reading indicator_values."""
    from cryptoquant.writer_lock import warehouse_writer

    with warehouse_writer(settings, "spark indicators"):
        return _run(settings, spark, full_refresh, symbols, specs)


def _run(settings: Settings, spark, full_refresh: bool, symbols: list[str] | None,
         specs: list[IndicatorSpec] | None) -> dict:
    from pyspark.sql import functions as F

    from spark.session import get_spark, upsert_dataframe

    t0 = time.monotonic()
    specs = specs if specs is not None else load_config_db(settings)
    _store.ensure_tables(settings, specs)
    plans = _store.plan_series(settings, specs, full_refresh, symbols)
    todo = [p for p in plans if p.mode != "up_to_date"]
    for p in plans:
        logger.info("%s %s: %s (%s)", p.symbol, p.interval_code, p.mode, p.reason)
    summary: dict = {
        "indicators": len(specs),
        "series": len(plans),
        "full": sorted(f"{p.symbol}/{p.interval_code}" for p in plans if p.mode == "full"),
        "incremental": sorted(f"{p.symbol}/{p.interval_code}" for p in plans
                              if p.mode == "incremental"),
        "up_to_date": sorted(f"{p.symbol}/{p.interval_code}" for p in plans
                             if p.mode == "up_to_date"),
        "warmup_candles": {f"{p.symbol}/{p.interval_code}": warmup_candles(
            specs, p.interval_seconds) for p in plans},
        "candles_read": 0,
        "candles_total": sum(p.candles for p in plans),
        "rows_written": 0,
        "failed": {},
    }
    if not todo:
        summary["seconds"] = round(time.monotonic() - t0, 1)
        return summary

    own_session = spark is None
    spark = spark or get_spark(settings, "cryptoquant-indicators")
    try:
        errors = spark.sparkContext.accumulator({}, _MergeDicts())
        computed_at = _store.run_timestamp(settings)
        wide = compute_wide(read_candles(spark, settings, todo), specs, todo, errors)
        written = upsert_dataframe(
            wide.withColumn(_store.COMPUTED_AT, F.lit(computed_at).cast("timestamp")),
            settings, settings.mysql_staging_database, _store.VALUES_TABLE, KEY_COLUMNS,
            keep_if_unchanged=[_store.COMPUTED_AT])
        failed = dict(sorted(errors.value.items()))
        for key, message in failed.items():
            logger.error("indicator series %s failed: %s", key, message)
        done = [p for p in todo if f"{p.symbol}/{p.interval_code}" not in failed]
        _store.save_state(settings, done, specs, computed_at)
    finally:
        if own_session:
            spark.stop()
    summary.update(rows_written=written, failed=failed,
                   candles_read=sum(p.candles_to_read for p in todo),
                   seconds=round(time.monotonic() - t0, 1))
    return summary


def run_step(settings: Settings) -> dict:
    """Pipeline step ``spark_indicators``."""
    return run_indicators(settings)
