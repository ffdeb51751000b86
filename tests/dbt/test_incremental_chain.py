"""The incremental metric chain (int_metric_inputs, fact_metric_value, int_prediction_components,
fact_prediction) and the per-prediction models after it (int_prediction_states_discretised, with
mart_regime, the table it reads, built beside it; fp_growth_transactions, with the backtest
tables it reads; fp_growth_prediction_matches against hand-made rules in Spark's table) equal
a --full-refresh of the same inputs, and rewrite only the tail (for the transactions: only the
trades that changed).

One warehouse on a slice of the bundled 1h data that holds an exchange outage (2021-09-29, a
missing candle inside the look-back of the rewritten candle, so the gap-aware look-back is
exercised) is built, then changed the ways production changes it:

* new candles for every symbol (the live case);
* an older candle of one symbol re-landed with another close (the ingest upsert: the later
  message wins and raw_klines.landed_at moves), which changes that series' indicators from
  that candle on;
* indicator values upserted as Spark does (computed_at moves only for rows whose values changed);
* articles published before the first build's cut that land only now (late news), which
  change the news sentiment of older candles.
* (through the new candles) trades closed by the new candles, which move the in-sample split
  of fp_growth_transactions and flip the split flag of older trades;
* the rules table replaced by a mining run that found the same rules (new run_id and
  mined_at: the matches stay incremental); a run with other rules is tested apart (a full
  rebuild by itself).

Then an incremental `dbt run`, a copy of the incremental models, a `--full-refresh` of the same
inputs, and every row and column compared (refreshed_at, the time of the run that wrote a row,
left out). The tail test checks, per series, that rows before the earliest changed candle keep
the refreshed_at of the first build and rows from it on carry the incremental run's: a
regression to a full rebuild (or a too-late start) fails it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import pytest

from cryptoquant import db
from cryptoquant.config import Settings
from cryptoquant.dbt import run_dbt as _run_dbt
from loaders import news_sentiment
from spark.fpgrowth.mining import PATTERN_COLUMNS, RULE_COLUMNS
from spark.fpgrowth.store import replace_results
from tests.dbt.conftest import RUN_SELECT, fetch
from tests.dbt.indicator_fixture import land_indicator_values
from tests.news.news_fixture import land_news, read_news
from tests.support.sample import land_klines

pytestmark = pytest.mark.integration

START = dt.datetime(2021, 9, 10)
CUT = dt.datetime(2021, 11, 20)          # the first build sees candles opening before CUT
NEW_END = CUT + dt.timedelta(hours=6)    # six new candles per symbol
REWRITTEN = ("ETHUSDT", dt.datetime(2021, 9, 30, 4))  # re-landed later; 120 candles before it
                                                      # cross the 2021-09-29 07:00 outage
LATE_NEWS = (CUT - dt.timedelta(days=5), CUT - dt.timedelta(days=3))  # published, landed late

CHAIN = {
    "int_metric_inputs": ["symbol_id", "interval_id", "open_time"],
    "fact_metric_value": ["symbol_id", "interval_id", "open_time", "metric_id"],
    "int_prediction_components": ["symbol_id", "interval_id", "open_time"],
    "fact_prediction": ["symbol_id", "interval_id", "open_time"],
}
# Per prediction (one row per item, or one row): its candle is the prediction's (fact_prediction).
PER_PREDICTION = {"int_prediction_states_discretised": ["prediction_id", "item"],
                  "fp_growth_prediction_matches": ["prediction_id"]}
# Hand-made significant WIN rules in Spark's table (no mining here): items every build has,
# one the masks cannot hold apart from others (two items), one no prediction carries.
RULE_ANTECEDENTS = [["side=LONG"], ["rsi=weak", "side=LONG"], ["macd=bull", "symbol=ETHUSDT"],
                    ["adx=trending"], ["regime=never"]]
KEYS = CHAIN | PER_PREDICTION
# Per closed trade: FP-Growth's transactions (a split over all trades, see its test below).
TRANSACTIONS = {"fp_growth_transactions": ["prediction_id", "item"]}
KEYS = KEYS | TRANSACTIONS
SELECT_MODELS = [*RUN_SELECT, "+fp_growth_transactions", *PER_PREDICTION]
RUN_COLUMNS = {"refreshed_at"}  # when a row was written, not what it says
REL_TOLERANCE = 1e-9  # doubles: window sums over a shorter partition may round differently


def upsert_indicator_values(settings: Settings) -> None:
    """Every indicator of every landed series into staging.indicator_values, the way Spark's
    upsert does it: new rows inserted, computed_at moved only where a value of the row
    changed."""
    land_indicator_values(settings, upsert=True)


def land_scored_news(settings: Settings, articles: pd.DataFrame) -> None:
    land_news(settings, articles)
    news_sentiment.run_step(settings)


def refreshed(settings: Settings, table: str) -> dict[tuple, dt.datetime]:
    """refreshed_at by (symbol_id, interval_id, open_time, ...): per-prediction rows are keyed
    by their prediction's candle and then by their own key."""
    if table in PER_PREDICTION:
        keys = "".join(f"t.{k}, " for k in PER_PREDICTION[table] if k != "prediction_id")
        return {tuple(r[:-1]): r[-1] for r in fetch(
            settings, f"select p.symbol_id, p.interval_id, p.open_time, {keys}t.refreshed_at "
                      f"from {table} t join fact_prediction p on p.prediction_id = t.prediction_id")}
    keys = CHAIN[table]
    return {tuple(r[:-1]): r[-1] for r in fetch(
        settings, f"select {', '.join(keys)}, refreshed_at from {table}")}


def write_rules(settings: Settings, antecedents: list[list[str]]) -> None:
    """Spark's rules table as a mining run replaces it (new run_id and mined_at every time)."""
    rules = pd.DataFrame({
        "rule_id": [f"{i:064d}" for i in range(len(antecedents))],
        "antecedent": [json.dumps(sorted(a)) for a in antecedents],
        "consequent": ['["outcome=WIN"]'] * len(antecedents),
        "antecedent_size": [len(a) for a in antecedents]})
    for column in ("antecedent_count", "win_count", "oos_antecedent_count", "oos_win_count"):
        rules[column] = 10
    for column in ("support", "base_win_rate", "p_value", "q_value", "oos_support",
                   "oos_confidence", "oos_lift"):
        rules[column] = 0.01
    rules["confidence"] = 0.6
    rules["lift"] = [1.5 + i / 10 for i in range(len(antecedents))]
    rules["is_significant"] = True
    replace_results(settings, pd.DataFrame(columns=PATTERN_COLUMNS), rules, PATTERN_COLUMNS,
                    RULE_COLUMNS, str(uuid.uuid4()),
                    dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))


def trades_split(settings: Settings) -> dict[str, tuple]:
    """Per stored trade of fp_growth_transactions: (outcome item, is_in_sample, refreshed_at,
    its prediction's series, open_time)."""
    return {r[0]: r[1:] for r in fetch(
        settings, "select t.prediction_id, t.item, t.is_in_sample, t.refreshed_at, "
                  "p.symbol_id, p.interval_id, p.open_time from fp_growth_transactions t "
                  "join fact_prediction p on p.prediction_id = t.prediction_id "
                  "where t.item like 'outcome=%'")}


def news_by_candle(settings: Settings) -> dict[tuple, float]:
    return {(r[0], r[1], r[2]): r[3] for r in fetch(
        settings, "select symbol_id, interval_id, open_time, sentiment_weighted "
                  "from news_sentiment_weighted_fact")}


def columns_of(settings: Settings, table: str) -> list[tuple[str, str]]:
    return fetch(settings, "select column_name, data_type from information_schema.columns "
                           "where table_schema = database() and table_name = %s "
                           "order by ordinal_position", (table,))


@pytest.fixture(scope="module")
def chain(make_settings, dbt_target_path):
    settings = make_settings("dbtinc")

    def run_dbt(*args):
        return _run_dbt(settings, [*args, "--target-path", dbt_target_path], capture=True)

    news = read_news()
    late = (news.published_at > LATE_NEWS[0]) & (news.published_at <= LATE_NEWS[1])
    assert late.sum() > 0

    # 1. the first build: candles before CUT, the news up to CUT except the late articles
    land_klines(settings, start=START, end=CUT)
    land_scored_news(settings, news[(news.published_at <= CUT) & ~late])
    upsert_indicator_values(settings)
    write_rules(settings, RULE_ANTECEDENTS)
    run_dbt("seed")
    run_dbt("run", *SELECT_MODELS)
    before = {table: refreshed(settings, table) for table in CHAIN | PER_PREDICTION}
    trades_before = trades_split(settings)
    news_before = news_by_candle(settings)

    # 2. the changes: new candles, a re-landed older candle, Spark's upsert, late news
    land_klines(settings, start=CUT, end=NEW_END)
    symbol, open_time = REWRITTEN
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("update raw_klines set close = close * 1.01, high = greatest(high, close) "
                    "where symbol = %s and open_time = %s", (symbol, open_time))
        assert cur.rowcount == 1
        conn.commit()
    land_scored_news(settings, news[late | ((news.published_at > CUT)
                                            & (news.published_at <= NEW_END))])
    upsert_indicator_values(settings)
    write_rules(settings, RULE_ANTECEDENTS)  # a mining run that found the same rules

    # 3. incremental run of the same selection; keep a copy of the incremental models
    run_dbt("run", *SELECT_MODELS)
    after = {table: refreshed(settings, table) for table in CHAIN | PER_PREDICTION}
    trades_after = trades_split(settings)
    news_after = news_by_candle(settings)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for table in KEYS:
            cur.execute(f"create table {table}__incremental as select * from {table}")
        conn.commit()

    # 4. the same inputs, --full-refresh
    run_dbt("run", *SELECT_MODELS, "--full-refresh")

    # the earliest changed candle per series, from what was changed above
    ids = dict(fetch(settings, "select symbol_code, symbol_id from dim_symbol"))
    (hour,) = fetch(settings, "select interval_id from dim_interval where interval_code = '1h'")
    first_change = {(ids[s], hour[0]): CUT for s in ids}
    rewritten = (ids[symbol], hour[0])
    first_change[rewritten] = min(first_change[rewritten], open_time)
    for key in set(news_before) | set(news_after):
        if news_before.get(key) != news_after.get(key) and key[2] < CUT:
            series = key[:2]
            first_change[series] = min(first_change[series], key[2])
    return settings, before, after, first_change, trades_before, trades_after


@pytest.mark.parametrize("table", sorted(KEYS))
def test_incremental_run_equals_full_refresh(chain, table):
    settings = chain[0]
    keys = KEYS[table]
    columns = [(c, kind) for c, kind in columns_of(settings, table) if c not in RUN_COLUMNS]
    assert [c for c, _ in columns_of(settings, f"{table}__incremental")] == \
        [c for c, _ in columns_of(settings, table)]
    join = " and ".join(f"i.{k} = f.{k}" for k in keys)
    differs = []
    for column, kind in columns:
        if kind in ("double", "float"):
            differs.append(f"not (i.{column} <=> f.{column} or abs(i.{column} - f.{column}) <= "
                           f"{REL_TOLERANCE} * greatest(abs(i.{column}), abs(f.{column})))")
        else:
            differs.append(f"not (i.{column} <=> f.{column})")
    counts = fetch(settings, f"select (select count(*) from {table}__incremental), "
                             f"(select count(*) from {table}), "
                             f"(select count(*) from {table}__incremental i join {table} f "
                             f"on {join})")
    assert counts[0][0] == counts[0][1] == counts[0][2] > 0, counts
    bad = fetch(settings, f"select {', '.join('i.' + k for k in keys)}, "
                          + ", ".join(f"({d})" for d in differs)
                          + f" from {table}__incremental i join {table} f on {join} "
                          f"where {' or '.join(differs)} limit 5")
    names = [c for c, _ in columns]
    assert not bad, [(row[:len(keys)], [n for n, flag in zip(names, row[len(keys):],
                                                             strict=True) if flag])
                     for row in bad]


def test_rows_compared_include_every_change(chain):
    """The scenario exercises what it claims: a re-landed older candle, late news on older
    candles, and a look-back that crosses the outage of 2021-09-29."""
    settings, _before, _after, first_change, *_ = chain
    ids = dict(fetch(settings, "select symbol_code, symbol_id from dim_symbol"))
    assert min(t for s, t in first_change.items() if s[0] == ids[REWRITTEN[0]]) == REWRITTEN[1]
    assert any(t < CUT for s, t in first_change.items() if s[0] != ids[REWRITTEN[0]])
    gaps = fetch(settings, "select count(*) from fact_kline_gap where symbol_id = %s "
                           "and gap_end_at between %s and %s",
                 (ids[REWRITTEN[0]], REWRITTEN[1] - dt.timedelta(hours=120), REWRITTEN[1]))
    assert gaps[0][0] >= 1


@pytest.mark.parametrize("table", sorted(CHAIN | PER_PREDICTION))
def test_incremental_run_rewrites_only_from_the_first_changed_candle(chain, table):
    _settings, before, after, first_change, *_ = chain
    run_at = max(after[table].values())
    kept, rewritten, wrong = 0, 0, []
    for key, at in after[table].items():
        series, open_time = key[:2], key[2]
        if open_time < first_change[series]:
            kept += 1
            if at != before[table].get(key):
                wrong.append(("rewritten before the first change", key))
        else:
            rewritten += 1
            if at != run_at:
                wrong.append(("not rewritten from the first change on", key))
    assert not wrong, (len(wrong), wrong[:5])
    assert rewritten > 0
    # most of the history is older than the changes and must have been left alone
    assert kept > rewritten


def test_transactions_rewrite_only_changed_trades(chain):
    """fp_growth_transactions redoes exactly the trades whose entry states were rewritten
    (prediction from the first changed candle on) or whose outcome or split flag changed or
    that are new; every other trade keeps its rows of the first build. The new candles close
    trades, which moves the in-sample split, so some older trades flip."""
    settings, *_rest, first_change, before, after = chain
    items = fetch(settings, "select prediction_id, count(*), min(refreshed_at), "
                            "max(refreshed_at) from fp_growth_transactions__incremental "
                            "group by prediction_id")
    run_at = max(r[3] for r in items)
    flipped = {p for p, a in after.items() if p in before and a[1] != before[p][1]}
    expected = {p for p, a in after.items()
                if a[5] >= first_change[a[3:5]] or p not in before or a[:2] != before[p][:2]}
    rewritten = {r[0] for r in items if r[2] == run_at}
    assert all(r[2] == r[3] for r in items)  # a trade's rows are written together
    assert rewritten == expected, (len(rewritten - expected), len(expected - rewritten))
    assert all(after[p][2] == before[p][2] for p in set(after) - expected)
    assert flipped and flipped - {p for p, a in after.items() if a[5] >= first_change[a[3:5]]}
    assert len(after) - len(rewritten) > len(rewritten)


def test_a_trade_no_longer_closed_is_deleted(chain, dbt_target_path):
    """A stored trade missing from fact_prediction_result's closed trades (as after a re-landed
    candle turns its prediction into NO_TRADE) disappears on the next incremental run."""
    settings = chain[0]
    stored = fetch(settings, "select count(*), max(refreshed_at) from fp_growth_transactions")
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.executemany("insert into fp_growth_transactions (prediction_id, item, is_in_sample, "
                        "refreshed_at) values ('gone', %s, 0, '2000-01-01')",
                        [("outcome=WIN",), ("side=LONG",)])
        conn.commit()
    _run_dbt(settings, ["run", "--select", "fp_growth_transactions",
                        "--target-path", dbt_target_path], capture=True)
    assert fetch(settings, "select count(*) from fp_growth_transactions "
                           "where prediction_id = 'gone'") == [(0,)]
    # and nothing else was rewritten (no change since the last build)
    assert fetch(settings, "select count(*), max(refreshed_at) "
                           "from fp_growth_transactions") == stored


def test_rows_compared_match_rules(chain):
    """The matches compared above are not all zero: most rules match some predictions."""
    rules = fetch(chain[0], "select best_rule_id, count(*) from fp_growth_prediction_matches "
                            "where best_rule_id is not null group by best_rule_id")
    assert len(rules) >= 3, rules


def test_changed_rules_rebuild_the_matches_without_full_refresh(chain, dbt_target_path):
    """A mining run with other rules, then a run without --full-refresh: every prediction is
    matched again (one refreshed_at), against the new rules only."""
    settings = chain[0]
    write_rules(settings, RULE_ANTECEDENTS[:1])
    _run_dbt(settings, ["run", "--select", "fp_growth_prediction_matches",
                        "--target-path", dbt_target_path], capture=True)
    assert len(fetch(settings, "select distinct refreshed_at "
                               "from fp_growth_prediction_matches")) == 1
    assert fetch(settings, "select count(*), count(distinct best_rule_id) "
                           "from fp_growth_prediction_matches") == \
        [(fetch(settings, "select count(*) from fact_prediction")[0][0], 1)]


def test_a_seed_change_rebuilds_the_chain_without_full_refresh(chain, dbt_target_path):
    """Switching a metric off (the metrics seed, here edited in the warehouse) and running
    without --full-refresh: the models fingerprinting dim_metric rebuild in full, so the metric's
    rows disappear and every score uses the new metric set (an incremental merge would have
    kept the old rows). Runs last: it changes the module's warehouse."""
    settings = chain[0]
    (metric_id, code), = fetch(settings, "select metric_id, metric_code from dim_metric "
                                         "where is_active = 1 order by metric_id limit 1")
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("update metrics set is_active = 0 where metric_id = %s", (metric_id,))
        conn.commit()
    _run_dbt(settings, ["run", "--select", "dim_metric", "fact_metric_value",
                        "int_prediction_components", "fact_prediction",
                        "--target-path", dbt_target_path], capture=True)
    assert fetch(settings, "select count(*) from fact_metric_value where metric_id = %s",
                 (metric_id,)) == [(0,)], code
    for table in ("fact_metric_value", "int_prediction_components"):
        assert len(fetch(settings, f"select distinct refreshed_at from {table}")) == 1, table
    # the bullish maximum lost the metric's weight in every prediction's components
    weights = fetch(settings, "select distinct max_bullish_score + max_bearish_score "
                              "from int_prediction_components")
    expected = fetch(settings, "select sum(metric_weight) from dim_metric where is_active = 1")
    assert [(float(w),) for (w,) in weights] == [(float(expected[0][0]),)]
