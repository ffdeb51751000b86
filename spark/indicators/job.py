"""The Spark indicator job: fact_kline -> staging.indicator_values, per (symbol, interval).

* Configuration: the warehouse table ``indicator_types`` (the dbt seed), so a new row is a new
  indicator. The arithmetic is ``spark.indicators.compute`` (TA-Lib + our VWAP), the same code
  research mode runs on a CSV file.
* Symbol-isolated: ``groupBy(symbol, interval).applyInPandas`` computes each series alone; an
  exception in one series becomes an error row, is reported in the summary and logged, and the
  other series are written.
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
* Idempotent: values go through ``upsert_dataframe`` (staging table + INSERT ... ON DUPLICATE
  KEY UPDATE); ``computed_at`` only moves when a value changes, and an up-to-date series is not
  read at all, so a re-run writes nothing. Undefined values (warm-up of each indicator) are not
  stored. Rows are never deleted: values of indicators switched off stay.
* Gaps: computed as-is in candle order (see ``compute``); ``is_gap_in_window`` flags values
  whose window spans a missing candle.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import numpy as np
import pandas as pd

from cryptoquant.config import Settings
from spark.indicators import _store
from spark.indicators.compute import compute_indicators, gap_flags
from spark.indicators.config import IndicatorSpec, load_config_db, warmup_candles

logger = logging.getLogger(__name__)

OUTPUT_SCHEMA = (
    "symbol string, interval_code string, indicator_code string, open_time timestamp, "
    "value double, is_gap_in_window int, error string"
)
_OUT_COLUMNS = ["symbol", "interval_code", "indicator_code", "open_time", "value",
                "is_gap_in_window", "error"]


def series_to_rows(pdf: pd.DataFrame, specs: list[IndicatorSpec], interval_seconds: int,
                   seeds=None, after: dt.datetime | None = None) -> pd.DataFrame:
    """The long rows of one series (defined values only, optionally only after ``after``)."""
    wide = compute_indicators(pdf, specs, seeds)
    flags = gap_flags(pdf, specs, interval_seconds)
    times = pd.to_datetime(pdf["open_time"]).to_numpy()
    codes = [s.code for s in specs]
    n = len(pdf)
    out = pd.DataFrame({
        "symbol": pdf["symbol"].iat[0] if n else None,
        "interval_code": pdf["interval_code"].iat[0] if n else None,
        "indicator_code": np.repeat(np.array(codes, dtype=object), n),
        "open_time": np.tile(times, len(codes)),
        "value": wide[codes].to_numpy().T.reshape(-1),
        "is_gap_in_window": flags[codes].to_numpy().T.reshape(-1).astype("int32"),
        "error": None,
    })
    keep = np.isfinite(out["value"].to_numpy())
    if after is not None:
        keep &= out["open_time"].to_numpy() > np.datetime64(after)
    return out[keep].reset_index(drop=True)


def _make_udf(specs: list[IndicatorSpec], plans: dict[tuple[str, str], _store.SeriesPlan]):
    def compute(pdf: pd.DataFrame) -> pd.DataFrame:
        key = (pdf["symbol"].iat[0], pdf["interval_code"].iat[0])
        plan = plans[key]
        try:
            return series_to_rows(pdf, specs, plan.interval_seconds, plan.seeds or None,
                                  plan.watermark)[_OUT_COLUMNS]
        except Exception as exc:  # one broken series must not stop the others
            row = dict.fromkeys(_OUT_COLUMNS)
            row.update(symbol=key[0], interval_code=key[1],
                       error=f"{type(exc).__name__}: {exc}"[:2000])
            return pd.DataFrame([row], columns=_OUT_COLUMNS).astype(
                {"value": "float64", "open_time": "datetime64[ns]"})

    return compute


def _kline_query(plans: list[_store.SeriesPlan]) -> str:
    conditions = []
    for p in plans:
        cond = f"(k.symbol_id = {int(p.symbol_id)} and k.interval_id = {int(p.interval_id)}"
        if p.mode == "incremental":
            cond += f" and k.open_time >= '{p.start_time:%Y-%m-%d %H:%M:%S}'"
        conditions.append(cond + ")")
    return (
        "select s.symbol_code as symbol, i.interval_code, k.open_time, "
        "cast(k.open as double) as open, cast(k.high as double) as high, "
        "cast(k.low as double) as low, cast(k.close as double) as close, "
        "cast(k.volume as double) as volume "
        "from fact_kline k join dim_symbol s on s.symbol_id = k.symbol_id "
        "join dim_interval i on i.interval_id = k.interval_id where "
        + " or ".join(conditions)
    )


def run_indicators(settings: Settings, spark=None, full_refresh: bool = False,
                   symbols: list[str] | None = None,
                   specs: list[IndicatorSpec] | None = None) -> dict:
    """Compute and upsert indicator values; returns a summary (what ran, rows, failures)."""
    from pyspark.sql import functions as F

    from spark.session import get_spark, upsert_dataframe

    t0 = time.monotonic()
    specs = specs if specs is not None else load_config_db(settings)
    _store.ensure_tables(settings)
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
        reader = spark.read.format("jdbc").options(
            **_jdbc(settings, settings.mysql_warehouse_database))
        klines = reader.option("query", _kline_query(todo)).option("fetchsize", "20000").load()
        udf = _make_udf(specs, {p.key: p for p in todo})
        result = (klines.groupBy("symbol", "interval_code")
                  .applyInPandas(udf, OUTPUT_SCHEMA)
                  .persist())
        errors = result.filter(F.col("error").isNotNull()).select(
            "symbol", "interval_code", "error").collect()
        failed = {f"{r.symbol}/{r.interval_code}": r.error for r in errors}
        for key, message in failed.items():
            logger.error("indicator series %s failed: %s", key, message)
        computed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        values = (result.filter(F.col("error").isNull()).drop("error")
                  .withColumn("computed_at", F.lit(computed_at).cast("timestamp")))
        written = upsert_dataframe(
            values, settings, settings.mysql_staging_database, _store.VALUES_TABLE,
            ["symbol", "interval_code", "indicator_code", "open_time"],
            keep_if_unchanged=["computed_at"])
        result.unpersist()
        done = [p for p in todo if f"{p.symbol}/{p.interval_code}" not in failed]
        _store.save_state(settings, done, specs, computed_at)
    finally:
        if own_session:
            spark.stop()
    summary.update(rows_written=written, failed=failed,
                   candles_read=sum(p.candles_to_read for p in todo), seconds=round(time.monotonic() - t0, 1))
    return summary


def _jdbc(settings: Settings, database: str) -> dict[str, str]:
    from spark.session import jdbc_options

    return jdbc_options(settings, database)


def run_step(settings: Settings) -> dict:
    """Pipeline step ``spark_indicators``."""
    return run_indicators(settings)
