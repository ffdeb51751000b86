"""FP-Growth over closed trades: frequent itemsets, win rules, significance, out-of-sample.

Input is the long table ``fp_growth_transactions`` (``prediction_id``, ``item``,
``is_in_sample``): one row per item of a trade. Spark ML's ``FPGrowth`` mines the in-sample
trades (all of them, not only the winners); the rules whose consequent is ``outcome=WIN`` are
tested against the in-sample base win rate and re-measured on the out-of-sample trades.

The tested family is every WIN rule whose itemset reaches the minimum support and whose
antecedent has at most ``max_antecedent_size`` items (longer conjunctions of correlated
states multiply the rules, and so the correction, without adding readable patterns). The minimum
confidence filters the stored rules *after* the Benjamini-Hochberg correction, so raising it
never makes the correction less strict (selecting rules by their win rate first and then
correcting only across the survivors would understate the false discovery rate).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import pandas as pd
from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.fpgrowth._stats import benjamini_hochberg, win_rate_p_value

logger = logging.getLogger(__name__)

WIN_ITEM = "outcome=WIN"

PATTERN_COLUMNS = ["pattern_id", "itemset", "item_count", "support", "count"]
RULE_COLUMNS = [
    "rule_id", "antecedent", "consequent", "antecedent_size",
    "antecedent_count", "win_count", "support", "confidence", "lift", "base_win_rate",
    "p_value", "q_value", "is_significant",
    "oos_antecedent_count", "oos_win_count", "oos_support", "oos_confidence", "oos_lift",
]


@dataclass(frozen=True)
class MiningParams:
    """Thresholds of one mining run (defaults as in the seed ``fp_growth_parameters``)."""

    min_support: float = 0.05
    min_confidence: float = 0.0
    fdr_alpha: float = 0.05
    max_antecedent_size: int = 3
    target_item: str = WIN_ITEM

    def __post_init__(self):
        if not 0.0 < self.min_support <= 1.0:
            raise ValueError(f"min_support must be in (0, 1], got {self.min_support}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if not 0.0 < self.fdr_alpha < 1.0:
            raise ValueError(f"fdr_alpha must be in (0, 1), got {self.fdr_alpha}")
        if int(self.max_antecedent_size) != self.max_antecedent_size or self.max_antecedent_size < 1:
            raise ValueError(f"max_antecedent_size must be a whole number >= 1, "
                             f"got {self.max_antecedent_size}")
        object.__setattr__(self, "max_antecedent_size", int(self.max_antecedent_size))


@dataclass(frozen=True)
class MiningResult:
    patterns: pd.DataFrame      # PATTERN_COLUMNS: frequent in-sample itemsets with the target
    rules: pd.DataFrame         # RULE_COLUMNS: target rules with confidence >= min_confidence
    in_sample_trades: int
    out_of_sample_trades: int
    base_win_rate: float
    oos_base_win_rate: float | None
    rules_tested: int


def item_key(items) -> str:
    """Canonical JSON of an itemset (sorted), the stored form of itemsets and rule sides."""
    return json.dumps(sorted(items), separators=(",", ":"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def baskets(transactions: DataFrame) -> DataFrame:
    """One row per trade: ``prediction_id``, ``items`` (sorted, distinct), ``is_in_sample``."""
    return transactions.groupBy("prediction_id").agg(
        F.array_sort(F.collect_set("item")).alias("items"),
        F.max(F.col("is_in_sample").cast("int")).cast("boolean").alias("is_in_sample"),
    )


def fit(basket_df: DataFrame, min_support: float, min_confidence: float):
    """Spark ML FP-Growth on ``items``: (frequent itemsets, association rules) DataFrames."""
    model = FPGrowth(itemsCol="items", minSupport=min_support,
                     minConfidence=min_confidence).fit(basket_df)
    return model.freqItemsets, model.associationRules


def frequent_itemsets(basket_df: DataFrame, min_support: float) -> DataFrame:
    """Spark ML FP-Growth's frequent itemsets: ``items`` (sorted) and ``freq``."""
    model = FPGrowth(itemsCol="items", minSupport=min_support).fit(basket_df)
    return model.freqItemsets.select(F.array_sort("items").alias("items"), "freq")


def mine(transactions: DataFrame, params: MiningParams = MiningParams()) -> MiningResult:
    """Mine the in-sample trades of ``transactions`` and evaluate the rules out of sample."""
    all_baskets = baskets(transactions).cache()
    ins = all_baskets.filter(F.col("is_in_sample"))
    oos = all_baskets.filter(~F.col("is_in_sample"))
    target = params.target_item
    has_target = F.array_contains("items", target).cast("int")
    counts = all_baskets.groupBy("is_in_sample").agg(
        F.count("*").alias("n"), F.sum(has_target).alias("wins")).collect()
    by_part = {bool(r["is_in_sample"]): (int(r["n"]), int(r["wins"] or 0)) for r in counts}
    n_in, wins_in = by_part.get(True, (0, 0))
    n_oos, wins_oos = by_part.get(False, (0, 0))
    base = wins_in / n_in if n_in else 0.0
    oos_base = wins_oos / n_oos if n_oos else None
    if n_in == 0:
        all_baskets.unpersist()
        return MiningResult(pd.DataFrame(columns=PATTERN_COLUMNS),
                            pd.DataFrame(columns=RULE_COLUMNS), 0, n_oos, 0.0, oos_base, 0)

    itemsets = frequent_itemsets(ins, params.min_support).cache()
    with_target = itemsets.filter(F.array_contains("items", target)
                                  & (F.size("items") <= params.max_antecedent_size + 1))
    patterns = with_target.toPandas()
    # The rules antecedent => target from the frequent itemsets: the same numbers as
    # FPGrowthModel.associationRules (tested), without generating every other consequent.
    antecedent_freq = itemsets.select(F.col("items").alias("antecedent"),
                                      F.col("freq").alias("antecedent_count"))
    rules = (with_target
             .select(F.array_remove("items", target).alias("antecedent"),
                     F.array(F.lit(target)).alias("consequent"),
                     F.col("freq").alias("win_count"))
             .filter(F.size("antecedent") > 0)
             .join(antecedent_freq, "antecedent")
             .withColumn("support", F.col("win_count") / F.lit(n_in))
             .withColumn("confidence", F.col("win_count") / F.col("antecedent_count"))
             .withColumn("lift", F.col("confidence") / F.lit(base)))
    rules_pd = rules.toPandas()
    oos_pd = _out_of_sample_counts(oos, rules_pd, target) if n_oos else None
    itemsets.unpersist()
    all_baskets.unpersist()

    pattern_frame = _pattern_frame(patterns, n_in)
    rule_frame = _rule_frame(rules_pd, oos_pd, base, n_oos, oos_base, params)
    tested = len(rules_pd)
    rule_frame = rule_frame[rule_frame["confidence"] >= params.min_confidence]
    logger.info("FP-Growth: %d in-sample trades (base win rate %.3f), %d target itemsets, "
                "%d rules tested, %d kept, %d significant", n_in, base, len(pattern_frame),
                tested, len(rule_frame), int(rule_frame["is_significant"].sum()))
    return MiningResult(pattern_frame, rule_frame.reset_index(drop=True), n_in, n_oos, base,
                        oos_base, tested)


def _out_of_sample_counts(oos: DataFrame, rules_pd: pd.DataFrame, target: str) -> pd.DataFrame:
    """Per rule: out-of-sample trades containing the antecedent, and those of them won."""
    if rules_pd.empty:
        return pd.DataFrame(columns=["rule_key", "oos_antecedent_count", "oos_win_count"])
    spark = oos.sparkSession
    keys = [(item_key(a), list(a)) for a in rules_pd["antecedent"]]
    rule_df = spark.createDataFrame(keys, "rule_key string, antecedent array<string>")
    matched = (oos.crossJoin(F.broadcast(rule_df))
               .filter(F.size(F.array_except("antecedent", "items")) == 0))
    return (matched.groupBy("rule_key")
            .agg(F.count("*").alias("oos_antecedent_count"),
                 F.sum(F.array_contains("items", target).cast("int")).alias("oos_win_count"))
            .toPandas())


def _pattern_frame(patterns: pd.DataFrame, n_in: int) -> pd.DataFrame:
    if patterns.empty:
        return pd.DataFrame(columns=PATTERN_COLUMNS)
    out = pd.DataFrame({"itemset": [item_key(i) for i in patterns["items"]]})
    out["pattern_id"] = out["itemset"].map(_sha)
    out["item_count"] = patterns["items"].map(len).astype(int)
    out["count"] = patterns["freq"].astype(int)
    out["support"] = out["count"] / n_in
    return out[PATTERN_COLUMNS].sort_values("itemset").reset_index(drop=True)


def _rule_frame(rules_pd, oos_pd, base, n_oos, oos_base, params) -> pd.DataFrame:
    if rules_pd.empty:
        return pd.DataFrame(columns=RULE_COLUMNS).astype({"confidence": float,
                                                          "is_significant": bool})
    out = pd.DataFrame({
        "antecedent": [item_key(a) for a in rules_pd["antecedent"]],
        "consequent": [item_key(c) for c in rules_pd["consequent"]],
        "antecedent_size": rules_pd["antecedent"].map(len).astype(int),
        "antecedent_count": rules_pd["antecedent_count"].astype(int),
        "win_count": rules_pd["win_count"].astype(int),
        "support": rules_pd["support"].astype(float),
        "confidence": rules_pd["confidence"].astype(float),
        "lift": rules_pd["lift"].astype(float),
    })
    out["rule_id"] = [_sha(a + "=>" + c) for a, c in zip(out["antecedent"], out["consequent"],
                                                          strict=True)]
    out["base_win_rate"] = base
    out["p_value"] = [win_rate_p_value(k, n, base)
                      for k, n in zip(out["win_count"], out["antecedent_count"], strict=True)]
    out["q_value"] = benjamini_hochberg(out["p_value"])
    out["is_significant"] = out["q_value"] <= params.fdr_alpha
    if oos_pd is None or oos_pd.empty:
        out["oos_antecedent_count"] = 0
        out["oos_win_count"] = 0
    else:
        oos_idx = oos_pd.set_index("rule_key")
        out["oos_antecedent_count"] = out["antecedent"].map(
            oos_idx["oos_antecedent_count"]).fillna(0).astype(int)
        out["oos_win_count"] = out["antecedent"].map(
            oos_idx["oos_win_count"]).fillna(0).astype(int)
    n_ant, n_win = out["oos_antecedent_count"], out["oos_win_count"]
    out["oos_support"] = n_win / n_oos if n_oos else None
    out["oos_confidence"] = (n_win / n_ant).where(n_ant > 0)
    out["oos_lift"] = (out["oos_confidence"] / oos_base) if oos_base else None
    return out[RULE_COLUMNS].sort_values(["q_value", "antecedent"]).reset_index(drop=True)
