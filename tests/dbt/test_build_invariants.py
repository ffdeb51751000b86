"""dbt build twice, incremental vs --full-refresh, and truncation invariance (no lookahead)."""

from __future__ import annotations

import pytest

from tests.dbt.conftest import SLICE_CANDLES, TABLE_KEYS, fetch


@pytest.mark.integration
@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_building_twice_gives_the_same_table(warehouse_states, table):
    assert warehouse_states.first[table], f"{table} is empty"
    assert warehouse_states.rebuilt[table] == warehouse_states.first[table]


@pytest.mark.integration
@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_incremental_after_one_candle_equals_full_refresh(warehouse_states, table):
    assert warehouse_states.incremental[table] == warehouse_states.full_refresh[table]
    # the new candles arrived: 3 more candles than the first build
    if table in ("fact_kline", "fact_prediction", "news_sentiment_weighted_fact"):
        assert len(warehouse_states.incremental[table]) == len(warehouse_states.first[table]) + 3


@pytest.mark.integration
def test_incremental_run_touches_only_the_tail(warehouse_states):
    # an old fact_kline row was changed in place before the incremental run; had the run
    # reloaded it, the landed value (null) would be back
    assert warehouse_states.untouched_marker == [(-7,)]


@pytest.mark.integration
@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_truncation_invariance(warehouse_states, table):
    """Rows for every candle before CUT are the same whether the warehouse was built on the
    data up to CUT or on all data (2 more weeks of candles and news): nothing looks ahead."""
    before = warehouse_states.first[table]
    after = warehouse_states.final_before_cut[table]
    assert len(after) == len(before) > 0
    mismatches = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[0]}"
    assert len(warehouse_states.final[table]) > len(before)


@pytest.mark.integration
def test_predictions_cover_every_candle_with_all_actions(warehouse):
    rows = fetch(warehouse, "select count(*), count(distinct prediction_id) from fact_prediction")
    klines = fetch(warehouse, "select count(*) from fact_kline")
    assert rows[0][0] == rows[0][1] == klines[0][0] == 3 * SLICE_CANDLES
    actions = dict(fetch(warehouse, "select action, count(*) from fact_prediction group by 1"))
    assert set(actions) == {"LONG", "SHORT", "NO_TRADE"}
    # the first candles of each series have no indicators yet: never traded on
    first = fetch(warehouse, "select distinct action, no_trade_reason from fact_prediction "
                             "where open_time < '2022-01-02'")
    assert first == [("NO_TRADE", "indicators still warming up (not enough history)")]


@pytest.mark.integration
def test_prediction_ids_are_stable_across_builds(warehouse_states):
    ids_first = {row[0] for row in warehouse_states.first["fact_prediction"]}
    ids_final = {row[0] for row in warehouse_states.final["fact_prediction"]}
    assert ids_first < ids_final


@pytest.mark.integration
def test_predicting_at_is_the_candle_close(warehouse):
    bad = fetch(warehouse, "select count(*) from fact_prediction "
                           "where predicting_at <> open_time + interval 1 hour")
    assert bad == [(0,)]


@pytest.mark.integration
def test_metric_values_exist_only_for_active_metrics(warehouse):
    evaluated = {r[0] for r in fetch(warehouse, "select distinct metric_code from fact_metric_value")}
    active = {r[0] for r in fetch(warehouse, "select metric_code from dim_metric where is_active = 1")}
    inactive = {r[0] for r in fetch(warehouse, "select metric_code from dim_metric where is_active = 0")}
    assert evaluated == active
    assert inactive and not evaluated & inactive
    components = {r[0] for r in fetch(warehouse, "select distinct component from fact_metric_value")}
    assert components == {"trend", "momentum", "volume", "volatility"}
