"""The FP-Growth job against the warehouse: metrics recount from fp_growth_transactions,
re-runs replace rows atomically and keep the tables' keys, thresholds come from the seed."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from cryptoquant import db
from spark.fpgrowth import job
from spark.fpgrowth.cli import fpgrowth
from spark.fpgrowth.mining import PATTERN_COLUMNS, RULE_COLUMNS
from spark.fpgrowth.store import PATTERNS_TABLE, RULES_TABLE, replace_results
from tests.patterns.synthetic import PLANT, trades

pytestmark = [pytest.mark.integration, pytest.mark.spark]


@pytest.fixture(scope="module")
def fp_settings(make_settings, fp_spark):
    """A fresh warehouse holding hand-made transactions (the layout of the dbt model)."""
    s = make_settings("fp")
    tx = trades(1500, seed=5, planted_win=0.7)
    with db.warehouse(s) as conn, conn.cursor() as cur:
        cur.execute("create table fp_growth_transactions (prediction_id bigint not null, "
                    "item varchar(255) not null, is_in_sample boolean not null, "
                    "primary key (prediction_id, item))")
        cur.executemany("insert into fp_growth_transactions values (%s, %s, %s)",
                        [(int(p), i, bool(b)) for p, i, b in tx.itertuples(index=False)])
        conn.commit()
    return s


@pytest.fixture(scope="module")
def first_run(fp_settings) -> dict:
    return job.run_step(fp_settings, min_support=0.04)


def _query(settings, sql, args=None) -> pd.DataFrame:
    with db.warehouse(settings, dict_rows=True) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return pd.DataFrame(cur.fetchall())


RECOUNT = """
with trade as (
  select prediction_id, max(is_in_sample) as is_in_sample,
         max(item = 'outcome=WIN') as is_win
  from fp_growth_transactions group by prediction_id
), part as (
  select is_in_sample, count(*) as trades, cast(sum(is_win) as signed) as wins from trade group by is_in_sample
), rule_item as (
  select r.rule_id, j.item, r.antecedent_size
  from fp_growth_win_rules r,
       json_table(r.antecedent, '$[*]' columns (item varchar(255) path '$')) j
), matched as (
  select ri.rule_id, t.prediction_id
  from rule_item ri join fp_growth_transactions t on t.item = ri.item
  group by ri.rule_id, t.prediction_id, ri.antecedent_size
  having count(*) = ri.antecedent_size
), per_rule as (
  select m.rule_id, tr.is_in_sample, count(*) as n_ante, cast(sum(tr.is_win) as signed) as n_win
  from matched m join trade tr on tr.prediction_id = m.prediction_id
  group by m.rule_id, tr.is_in_sample
)
select r.rule_id, r.antecedent_count, r.win_count, r.support, r.confidence, r.lift,
       r.oos_antecedent_count, r.oos_win_count, r.oos_support, r.oos_confidence, r.oos_lift,
       i.n_ante as n_ante, i.n_win as n_win, pi.trades as trades, pi.wins as wins,
       coalesce(o.n_ante, 0) as o_ante, coalesce(o.n_win, 0) as o_win,
       po.trades as o_trades, po.wins as o_wins
from fp_growth_win_rules r
left join per_rule i on i.rule_id = r.rule_id and i.is_in_sample = 1
left join per_rule o on o.rule_id = r.rule_id and o.is_in_sample = 0
cross join part pi cross join part po
where pi.is_in_sample = 1 and po.is_in_sample = 0
"""


def test_run_writes_rules_that_recount_from_transactions(fp_settings, first_run):
    summary = first_run
    assert summary["rules"] > 20 and summary["significant_rules"] >= 1
    got = _query(fp_settings, RECOUNT)
    assert len(got) == summary["rules"]
    for r in got.itertuples():
        assert (r.antecedent_count, r.win_count) == (r.n_ante, r.n_win)
        assert r.support == pytest.approx(r.n_win / r.trades, abs=1e-12)
        assert r.confidence == pytest.approx(r.n_win / r.n_ante, abs=1e-12)
        assert r.lift == pytest.approx((r.n_win / r.n_ante) / (r.wins / r.trades), abs=1e-12)
        assert (r.oos_antecedent_count, r.oos_win_count) == (r.o_ante, r.o_win)
        assert r.oos_support == pytest.approx(r.o_win / r.o_trades, abs=1e-12)
        if r.o_ante:
            assert r.oos_confidence == pytest.approx(r.o_win / r.o_ante, abs=1e-12)
            assert r.oos_lift == pytest.approx(
                (r.o_win / r.o_ante) / (r.o_wins / r.o_trades), abs=1e-12)
    planted = _query(fp_settings, "select is_significant, consequent from fp_growth_win_rules "
                     "where antecedent = %s", (json.dumps(sorted(PLANT), separators=(",", ":")),))
    assert planted["is_significant"].tolist() == [1]
    assert json.loads(planted["consequent"][0]) == ["outcome=WIN"]
    patterns = _query(fp_settings, """
        with pattern_item as (
          select p.pattern_id, p.item_count, j.item
          from fp_growth_win_patterns p,
               json_table(p.itemset, '$[*]' columns (item varchar(255) path '$')) j
        ), matched as (
          select pi.pattern_id, t.prediction_id
          from pattern_item pi join fp_growth_transactions t on t.item = pi.item
          where t.is_in_sample
          group by pi.pattern_id, t.prediction_id, pi.item_count
          having count(*) = pi.item_count
        )
        select p.pattern_id, p.`count`, count(m.prediction_id) as recount
        from fp_growth_win_patterns p left join matched m on m.pattern_id = p.pattern_id
        group by p.pattern_id, p.`count`""")
    assert len(patterns) == summary["patterns"] > 10
    assert (patterns["count"] == patterns["recount"]).all()


def _keys(settings, table) -> set[tuple[str, str]]:
    got = _query(settings, f"show index from {table}")
    return set(zip(got["Key_name"], got["Column_name"], strict=True))


def test_rerun_replaces_rows_and_keeps_keys(fp_settings, first_run):
    first = first_run
    keys_before = {t: _keys(fp_settings, t) for t in (PATTERNS_TABLE, RULES_TABLE)}
    assert ("PRIMARY", "rule_id") in keys_before[RULES_TABLE]
    assert ("PRIMARY", "pattern_id") in keys_before[PATTERNS_TABLE]
    result = CliRunner().invoke(fpgrowth, ["--min-support", "0.08"], obj=fp_settings)
    assert result.exit_code == 0, result.output
    second = json.loads(result.output)
    assert second["run_id"] != first["run_id"] and second["rules"] < first["rules"]
    runs = _query(fp_settings, "select run_id, count(*) as n from fp_growth_win_rules "
                  "group by run_id")
    assert runs["run_id"].tolist() == [second["run_id"]]
    assert runs["n"].tolist() == [second["rules"]]
    assert {t: _keys(fp_settings, t) for t in keys_before} == keys_before


def test_failed_replace_keeps_the_previous_run(fp_settings, first_run):
    before = _query(fp_settings, "select rule_id, run_id from fp_growth_win_rules "
                    "order by rule_id")
    patterns = _query(fp_settings, f"select {', '.join(f'`{c}`' for c in PATTERN_COLUMNS)} "
                      "from fp_growth_win_patterns")
    rules = _query(fp_settings, f"select {', '.join(RULE_COLUMNS)} from fp_growth_win_rules")
    rules.loc[len(rules) // 2, "antecedent"] = None          # violates NOT NULL mid-insert
    with pytest.raises(Exception, match="antecedent"):
        replace_results(fp_settings, patterns, rules, PATTERN_COLUMNS, RULE_COLUMNS,
                        "00000000-0000-0000-0000-000000000000", pd.Timestamp("2026-01-01"))
    after = _query(fp_settings, "select rule_id, run_id from fp_growth_win_rules "
                   "order by rule_id")
    pd.testing.assert_frame_equal(before, after)


def test_thresholds_come_from_the_seed_table(fp_settings):
    with db.warehouse(fp_settings) as conn, conn.cursor() as cur:
        cur.execute("create table fp_growth_parameters (parameter_code varchar(64), "
                    "parameter_value double, description text)")
        cur.executemany("insert into fp_growth_parameters values (%s, %s, '')",
                        [("min_support", 0.1), ("fdr_alpha", 0.01),
                         ("in_sample_fraction", 0.7)])
        conn.commit()
    try:
        params = job.configured_params(fp_settings)
        assert (params.min_support, params.fdr_alpha, params.min_confidence) == (0.1, 0.01, 0.0)
        assert job.configured_params(fp_settings, min_support=0.2).min_support == 0.2
    finally:
        with db.warehouse(fp_settings, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("drop table fp_growth_parameters")
