"""FP-Growth pattern mining over closed trades (Spark ML), with significance and OOS checks.

``mine`` turns ``fp_growth_transactions`` into WIN itemsets and rules; ``run_step`` is the
pipeline step (read the warehouse, mine, replace ``fp_growth_win_patterns`` and
``fp_growth_win_rules`` atomically).
"""

from spark.fpgrowth.mining import WIN_ITEM, MiningParams, MiningResult, mine

__all__ = ["WIN_ITEM", "MiningParams", "MiningResult", "mine", "run_step"]


def run_step(settings):
    """Pipeline step ``spark_fpgrowth`` (imported lazily: the job module starts Spark)."""
    from spark.fpgrowth.job import run_step as _run_step

    return _run_step(settings)
