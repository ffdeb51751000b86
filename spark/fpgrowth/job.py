"""The FP-Growth job: warehouse ``fp_growth_transactions`` -> Spark ML -> WIN patterns/rules.

Thresholds come from the seed ``fp_growth_parameters`` (``min_support``, ``min_confidence``,
``fdr_alpha``, ``max_antecedent_size``; the same seed sets the in-sample fraction used by dbt), overridable per run.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import fields

import pymysql

from cryptoquant import db
from cryptoquant.config import Settings
from spark.fpgrowth.mining import PATTERN_COLUMNS, RULE_COLUMNS, MiningParams, mine
from spark.fpgrowth.store import replace_results

logger = logging.getLogger(__name__)

TRANSACTIONS_TABLE = "fp_growth_transactions"
PARAMETERS_TABLE = "fp_growth_parameters"
_PARAMETER_NAMES = ("min_support", "min_confidence", "fdr_alpha", "max_antecedent_size")


def configured_params(settings: Settings, **overrides) -> MiningParams:
    """Defaults, then the warehouse seed ``fp_growth_parameters`` (if built), then overrides."""
    values: dict[str, float] = {}
    try:
        with db.warehouse(settings) as conn, conn.cursor() as cur:
            cur.execute(f"select parameter_code, parameter_value from {PARAMETERS_TABLE}")
            values = {code: float(value) for code, value in cur.fetchall()
                      if code in _PARAMETER_NAMES}
    except pymysql.err.ProgrammingError as exc:   # seed not built yet: defaults
        logger.warning("no %s table (%s); using default thresholds", PARAMETERS_TABLE, exc)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(MiningParams)}
    return MiningParams(**{k: v for k, v in values.items() if k in known})


def run_step(settings: Settings, min_support: float | None = None,
             min_confidence: float | None = None, fdr_alpha: float | None = None,
             max_antecedent_size: int | None = None) -> dict:
    """Mine the warehouse's closed trades and replace the two result tables (one Spark
    session). Returns a summary for the pipeline log."""
    from spark.session import get_spark, read_table

    params = configured_params(settings, min_support=min_support,
                               min_confidence=min_confidence, fdr_alpha=fdr_alpha,
                               max_antecedent_size=max_antecedent_size)
    run_id = str(uuid.uuid4())
    mined_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    spark = get_spark(settings, "cryptoquant-fpgrowth")
    transactions = read_table(spark, settings, settings.mysql_warehouse_database,
                              TRANSACTIONS_TABLE)
    result = mine(transactions, params)
    replace_results(settings, result.patterns, result.rules, PATTERN_COLUMNS, RULE_COLUMNS,
                    run_id, mined_at)
    return {
        "run_id": run_id,
        "min_support": params.min_support,
        "min_confidence": params.min_confidence,
        "fdr_alpha": params.fdr_alpha,
        "max_antecedent_size": params.max_antecedent_size,
        "in_sample_trades": result.in_sample_trades,
        "out_of_sample_trades": result.out_of_sample_trades,
        "base_win_rate": round(result.base_win_rate, 6),
        "patterns": len(result.patterns),
        "rules_tested": result.rules_tested,
        "rules": len(result.rules),
        "significant_rules": int(result.rules["is_significant"].sum()),
    }
