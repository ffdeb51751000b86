"""The Spark indicator job: fact_kline -> staging.indicator_values, per (symbol, interval).

* Configuration: the warehouse table ``indicator_types`` (the dbt seed), so a new row is a new
  indicator. The arithmetic is ``spark.indicators.compute`` (TA-Lib + our VWAP), the same code
  research mode runs on a CSV file.
* Spark schedules series, not candles: it distributes one small row per planned (symbol,
  interval), one partition each, largest first, and each task (``mapInArrow``) reads that
  series' candles from fact_kline itself, computes them, loads its wide rows into the run's
  staging table itself (``_io``) and returns one summary row (rows written, or the error).
  Candles never become JVM rows: the JDBC read, the Arrow copy to the Python workers and the
  wide rows back cost 3.7x the computation itself (docs/benchmarks.md), while what Spark is
  here for is kept: series in parallel across executors, a task re-run when its executor is
  lost, one series' failure isolated from the others. An exception in one series is reported
  in its summary row (and the log) and that series writes nothing, while the others are
  written.
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
* Idempotent: the tasks fill a staging table made for the run (a retried task replaces its
  series' rows there), then one INSERT ... ON DUPLICATE KEY UPDATE from the driver
  (``spark.session.merge_sql``) makes the run's rows visible at once; a run stamps its rows
  with one ``computed_at``, taken when it starts computing and newer than every stored one
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

from cryptoquant.config import Settings
from spark.indicators import _io, _store
from spark.indicators.compute import SeriesError, check_candles, gap_columns, indicator_columns
from spark.indicators.config import IndicatorSpec, load_config_db, warmup_candles

logger = logging.getLogger(__name__)

KEY_COLUMNS = list(_store.KEY_COLUMNS)
INPUT_COLUMNS = _io.INPUT_COLUMNS
# What a task returns to the driver: one row per series.
SUMMARY_SCHEMA = pa.schema([("plan", pa.int32()), ("rows", pa.int64()), ("error", pa.string())])


def wide_columns(specs: list[IndicatorSpec]) -> list[str]:
    """The per-series function's output columns: indicator_values' columns but computed_at."""
    return [*KEY_COLUMNS, *_store.value_columns(s.code for s in specs)]


def _repeated(text: str, n: int) -> pa.Array:
    """``text`` n times as an Arrow string array, built from its buffers (no Python loop)."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype="int32") * len(data)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def series_wide(table: pa.Table, specs: list[IndicatorSpec],
                plan: _store.SeriesPlan) -> pa.RecordBatch:
    """One series' indicators as an Arrow batch of ``wide_columns`` rows, one per candle in time
    order (in an incremental run only the candles after the watermark); a value and its gap
    flag are null where the value is undefined (NaN in TA-Lib's output; an infinity, which
    MariaDB cannot store, counts as undefined too). Raises on a bad series
    (``check_candles``) or when the rows read are not the ones planned.

    ``table``: the series' candles (INPUT_COLUMNS, any order), as a reader returns them
    (``_io.KlineReader``, or pyarrow from Parquet in the benchmark)."""
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


def run_series(plan: _store.SeriesPlan, specs: list[IndicatorSpec], reader,
               writer) -> tuple[int, str | None]:
    """One series, start to end, as one task runs it: ``reader(plan)`` -> candles ->
    ``series_wide`` -> ``writer(plan, rows)``. Returns (rows written, None), or (0, the error)
    when anything raised: the writer commits a series whole or not at all, so a failed series
    has written nothing."""
    try:
        return writer(plan, series_wide(reader(plan), specs, plan)), None
    except Exception as exc:  # one broken series must not stop the others
        return 0, f"{type(exc).__name__}: {exc}"[:2000]


def make_task(specs: list[IndicatorSpec], plans: list[_store.SeriesPlan], reader, writer):
    """The function ``mapInArrow`` runs on each partition: plan numbers (one per partition as
    ``compute_series`` lays them out) -> one SUMMARY_SCHEMA row per series."""

    def run(batches):
        for batch in batches:
            for i in batch.column("plan").to_pylist():
                rows, error = run_series(plans[i], specs, reader, writer)
                yield pa.RecordBatch.from_pylist([{"plan": i, "rows": rows, "error": error}],
                                                 schema=SUMMARY_SCHEMA)

    return run


def compute_series(spark, specs: list[IndicatorSpec], plans: list[_store.SeriesPlan], reader,
                   writer) -> list[tuple[_store.SeriesPlan, int, str | None]]:
    """Every planned series through ``run_series`` as a Spark job, one task per series, the
    largest first (the longest task starts first, so the last to finish is a short one);
    returns (plan, rows written, error or None) per series, in plan order. ``reader`` and
    ``writer`` travel with the tasks (they must pickle)."""
    if not plans:
        return []
    order = sorted(range(len(plans)), key=lambda i: -plans[i].candles_to_read)
    series = spark.createDataFrame(
        spark.sparkContext.parallelize([(i,) for i in order], len(order)), "plan int")
    done = series.mapInArrow(make_task(specs, plans, reader, writer),
                             "plan int, rows long, error string").collect()
    by_plan = {r["plan"]: (r["rows"], r["error"]) for r in done}
    return [(p, *by_plan[i]) for i, p in enumerate(plans)]


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
    from spark.session import get_spark

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
    staging = _io.create_staging(settings, [s.code for s in specs])
    try:
        computed_at = _store.run_timestamp(settings)
        results = compute_series(spark, specs, todo, _io.KlineReader(settings),
                                 _io.StagingWriter(settings, staging, computed_at))
        failed, done, broken = {}, [], []
        for p, rows, error in results:
            key = f"{p.symbol}/{p.interval_code}"
            if error is None:
                done.append(p)
                logger.info("%s: %d rows computed", key, rows)
            else:
                broken.append(p)
                failed[key] = error
                logger.error("indicator series %s failed: %s", key, error)
        _io.discard_series(settings, staging, broken)
        _io.merge_staging(settings, staging, wide_columns(specs))
        _store.save_state(settings, done, specs, computed_at)
    finally:
        _io.drop_staging(settings, staging)
        if own_session:
            spark.stop()
    summary.update(rows_written=sum(rows for _, rows, _ in results), failed=dict(sorted(
        failed.items())), candles_read=sum(p.candles_to_read for p in todo),
                   seconds=round(time.monotonic() - t0, 1))
    return summary


def run_step(settings: Settings) -> dict:
    """Pipeline step ``spark_indicators``."""
    return run_indicators(settings)
