"""FP-Growth mining: Spark vs mlxtend, planted pattern vs noise, recounted metrics."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from spark.fpgrowth.mining import WIN_ITEM, MiningParams, baskets, fit, mine
from tests.patterns.synthetic import PLANT, recount, trades

pytestmark = pytest.mark.spark


PARAMS = MiningParams(min_support=0.03, max_antecedent_size=6)


@pytest.fixture(scope="module")
def planted():
    return trades(2000, seed=7, planted_win=0.75)


@pytest.fixture(scope="module")
def planted_result(spark, planted):
    return mine(spark.createDataFrame(planted), PARAMS)


def _mlxtend(tx: pd.DataFrame, min_support: float, min_confidence: float):
    sets = tx.groupby("prediction_id")["item"].agg(sorted).tolist()
    enc = TransactionEncoder()
    onehot = pd.DataFrame(enc.fit(sets).transform(sets), columns=enc.columns_)
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True)
    rules = association_rules(itemsets, len(itemsets), metric="confidence",
                              min_threshold=min_confidence)
    rules = rules[rules["consequents"].map(len) == 1]
    return itemsets, rules


def test_spark_equals_mlxtend(spark):
    tx = trades(400, seed=3)
    tx["is_in_sample"] = True
    items_s, rules_s = fit(baskets(spark.createDataFrame(tx)), 0.05, 0.2)
    items_s, rules_s = items_s.toPandas(), rules_s.toPandas()
    items_m, rules_m = _mlxtend(tx, 0.05, 0.2)

    spark_sup = {frozenset(i): f / 400 for i, f in zip(items_s["items"], items_s["freq"],
                                                        strict=True)}
    mlx_sup = dict(zip(items_m["itemsets"], items_m["support"], strict=True))
    assert len(spark_sup) > 50
    assert spark_sup.keys() == mlx_sup.keys()
    for key, value in mlx_sup.items():
        assert spark_sup[key] == pytest.approx(value, abs=1e-12)

    def keyed(ants, cons, *cols):
        return {(frozenset(a), frozenset(c)): vals
                for a, c, *vals in zip(ants, cons, *cols, strict=True)}

    spark_rules = keyed(rules_s["antecedent"], rules_s["consequent"], rules_s["support"],
                        rules_s["confidence"], rules_s["lift"])
    mlx_rules = keyed(rules_m["antecedents"], rules_m["consequents"], rules_m["support"],
                      rules_m["confidence"], rules_m["lift"])
    assert len(spark_rules) > 50
    assert spark_rules.keys() == mlx_rules.keys()
    for key, (sup, conf, lift) in mlx_rules.items():
        assert spark_rules[key] == pytest.approx([sup, conf, lift], abs=1e-12)


def test_win_rules_equal_mlxtend(spark, planted, planted_result):
    """The stored WIN rules (mined in sample) carry mlxtend's support, confidence, lift."""
    result = planted_result
    _, rules_m = _mlxtend(planted[planted["is_in_sample"]], PARAMS.min_support, 0.0)
    rules_m = rules_m[rules_m["consequents"] == frozenset([WIN_ITEM])]
    expected = {json.dumps(sorted(a), separators=(",", ":")): (s, c, lf) for a, s, c, lf in zip(
        rules_m["antecedents"], rules_m["support"], rules_m["confidence"], rules_m["lift"],
        strict=True)}
    got = {a: (s, c, lf) for a, s, c, lf in zip(result.rules["antecedent"],
           result.rules["support"], result.rules["confidence"], result.rules["lift"],
           strict=True)}
    assert len(got) == result.rules_tested > 20
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        assert got[key] == pytest.approx(values, abs=1e-12)
    # ... and Spark's own FPGrowthModel.associationRules for the same consequent
    _, spark_rules = fit(baskets(spark.createDataFrame(planted[planted["is_in_sample"]])),
                         0.03, 0.0)
    spark_rules = spark_rules.filter(f"consequent = array('{WIN_ITEM}')").toPandas()
    from_spark = {json.dumps(sorted(a), separators=(",", ":")): (s, c, lf)
                  for a, s, c, lf in zip(spark_rules["antecedent"], spark_rules["support"],
                                         spark_rules["confidence"], spark_rules["lift"],
                                         strict=True)}
    assert from_spark.keys() == got.keys()
    for key, values in from_spark.items():
        assert got[key] == pytest.approx(values, abs=1e-12)


def test_planted_pattern_is_significant(planted_result):
    result = planted_result
    rules = result.rules.set_index("antecedent")
    planted_rule = rules.loc[json.dumps(sorted(PLANT), separators=(",", ":"))]
    assert bool(planted_rule["is_significant"])
    assert planted_rule["q_value"] < 0.001
    assert planted_rule["lift"] > 1.8
    assert planted_rule["oos_lift"] > 1.5
    significant = result.rules[result.rules["is_significant"]]
    # every discovery involves the planted condition (here, with this seed: no false positive)
    for antecedent in significant["antecedent"]:
        assert set(json.loads(antecedent)) & set(PLANT)


def test_metrics_recount_from_transactions(planted, planted_result):
    result = planted_result
    n_in, _, wins_in = recount(planted, [], True)
    n_oos, _, wins_oos = recount(planted, [], False)
    assert (result.in_sample_trades, result.out_of_sample_trades) == (n_in, n_oos)
    assert result.base_win_rate == wins_in / n_in
    for row in result.rules.itertuples():
        antecedent = json.loads(row.antecedent)
        _, n_a, n_aw = recount(planted, antecedent, True)
        assert (row.antecedent_count, row.win_count) == (n_a, n_aw)
        assert row.support == pytest.approx(n_aw / n_in, abs=1e-12)
        assert row.confidence == pytest.approx(n_aw / n_a, abs=1e-12)
        assert row.lift == pytest.approx((n_aw / n_a) / (wins_in / n_in), abs=1e-12)
        _, o_a, o_aw = recount(planted, antecedent, False)
        assert (row.oos_antecedent_count, row.oos_win_count) == (o_a, o_aw)
        assert row.oos_support == pytest.approx(o_aw / n_oos, abs=1e-12)
        assert row.oos_confidence == pytest.approx(o_aw / o_a, abs=1e-12)
        assert row.oos_lift == pytest.approx((o_aw / o_a) / (wins_oos / n_oos), abs=1e-12)
    patterns = result.patterns
    assert (patterns["itemset"].map(lambda s: WIN_ITEM in json.loads(s))).all()
    for row in patterns.itertuples():
        items = [i for i in json.loads(row.itemset) if i != WIN_ITEM]
        assert row.count == recount(planted, items, True)[2]


def test_noise_has_no_significant_rule(spark):
    noise = trades(2000, seed=11)
    result = mine(spark.createDataFrame(noise), PARAMS)
    assert result.rules_tested > 50
    assert not result.rules["is_significant"].any()
    assert result.rules["p_value"].min() < 0.2   # p-values were really computed


def test_min_confidence_filters_after_correction(spark, planted, planted_result):
    full = planted_result
    strict = mine(spark.createDataFrame(planted),
                  MiningParams(min_support=0.03, max_antecedent_size=6, min_confidence=0.5))
    assert strict.rules_tested == full.rules_tested
    assert 0 < len(strict.rules) < len(full.rules)
    assert (strict.rules["confidence"] >= 0.5).all()
    kept = full.rules.set_index("rule_id").loc[strict.rules["rule_id"]]
    assert list(kept["q_value"]) == pytest.approx(list(strict.rules["q_value"]), abs=0)
