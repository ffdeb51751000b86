"""One warehouse built per session for the dbt tests, and the helpers to compare its tables.

The session warehouse is built in stages that later tests inspect (see ``warehouse_states``):
the first build on data up to CUT, a rebuild without new data, an incremental build after one
new candle per symbol, a --full-refresh, and an incremental build on all the data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pytest

from cryptoquant import db
from cryptoquant.config import Settings
from cryptoquant.dbt import run_dbt as _run_dbt
from loaders import news_sentiment
from tests.dbt.indicator_fixture import land_indicator_values
from tests.news.news_fixture import land_news, read_news
from tests.support.sample import land_klines

# The dbt nodes this area owns (other helpers' models are built and tested by their areas).
MODEL_PATHS = (
    "path:dbt_project/models/staging",
    "path:dbt_project/models/intermediate/metrics",
    "path:dbt_project/models/intermediate/news",
    "path:dbt_project/models/marts/core",
    "path:dbt_project/models/marts/metrics",
    "path:dbt_project/models/marts/news",
)
SINGULAR_TESTS = (
    "assert_metric_signal_fixture",
    "assert_metric_transforms_fixture",
    "assert_score_guards_fixture",
    "assert_news_weighting_fixture",
    "assert_component_scores_from_own_metrics",
    "assert_fact_kline_covers_landed_candles",
)
SELECT = ["--indirect-selection", "cautious", "--select", "resource_type:seed", *MODEL_PATHS,
          *(f"path:dbt_project/tests/{name}.sql" for name in SINGULAR_TESTS)]
RUN_SELECT = ["--select", *MODEL_PATHS]
# The base stage of this area (the pipeline runs `build --select tag:base`; other helpers'
# base nodes are left to their own tests).
BASE_SELECT = ["--indirect-selection", "cautious", "--select", "resource_type:seed",
               "path:dbt_project/models/staging", "path:dbt_project/models/marts/core"]

# Truncation point: the first build sees the candles that close by CUT (open_time < CUT) and
# the articles published up to CUT.
# Two months of candles (inside the news period) keep the area's tests within budget.
SLICE_START = dt.datetime(2022, 1, 1)
SLICE_END = dt.datetime(2022, 3, 1)
SLICE_CANDLES = 59 * 24  # per symbol
CUT = dt.datetime(2022, 2, 15)
ONE_HOUR = dt.timedelta(hours=1)

TABLE_KEYS = {
    "fact_kline": "symbol_id, interval_id, open_time",
    "fact_indicator": "symbol_id, interval_id, indicator_type_id, open_time",
    "fact_metric_value": "symbol_id, interval_id, open_time, metric_id",
    "fact_prediction": "symbol_id, interval_id, open_time",
    "news_sentiment_weighted_fact": "symbol_id, interval_id, open_time",
}
# Columns that record when a row was loaded or written, not what it says.
LOAD_COLUMNS = {"landed_at", "computed_at", "refreshed_at"}


def fetch(settings: Settings, sql: str, args=None) -> list[tuple]:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _norm(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    return value


def snapshot(settings: Settings, table: str, where: str = "1 = 1") -> list[tuple]:
    """The table's rows (without load-time columns), ordered by key, floats rounded."""
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select * from {table} limit 0")
        columns = [d[0] for d in cur.description if d[0] not in LOAD_COLUMNS]
        cur.execute(f"select {', '.join(columns)} from {table} where {where} "
                    f"order by {TABLE_KEYS[table]}")
        return [tuple(_norm(v) for v in row) for row in cur.fetchall()]


def snapshot_all(settings: Settings) -> dict[str, list[tuple]]:
    return {table: snapshot(settings, table) for table in TABLE_KEYS}


def land_news_between(settings: Settings, after: dt.datetime | None,
                      until: dt.datetime | None) -> int:
    """Land and score the bundled articles published in (after, until]."""
    df = read_news()
    if after is not None:
        df = df[df.published_at > after]
    if until is not None:
        df = df[df.published_at <= until]
    n = land_news(settings, df)
    news_sentiment.run_step(settings)
    return n


@dataclass
class WarehouseStates:
    settings: Settings
    first: dict = field(default_factory=dict)        # built on data up to CUT
    rebuilt: dict = field(default_factory=dict)      # same data, built again
    incremental: dict = field(default_factory=dict)  # + one candle per symbol, incremental
    full_refresh: dict = field(default_factory=dict)  # same data, --full-refresh
    untouched_marker: object = None                  # trade_count of a tampered old candle
    final: dict = field(default_factory=dict)        # all data, incremental
    final_before_cut: dict = field(default_factory=dict)  # the final rows with open_time < CUT


@pytest.fixture(scope="session")
def dbt_target_path(tmp_path_factory) -> str:
    """A private dbt target directory: other dbt runs in the work tree use ./target."""
    return str(tmp_path_factory.mktemp("dbt_target"))


@pytest.fixture(scope="session")
def warehouse_states(make_settings, dbt_target_path) -> WarehouseStates:
    settings = make_settings("dbt")
    states = WarehouseStates(settings)

    def run_dbt(settings, args, capture=True):
        return _run_dbt(settings, [*args, "--target-path", dbt_target_path], capture=capture)

    # 1. data before CUT, full build with every test of this area
    land_klines(settings, start=SLICE_START, end=CUT)
    land_news_between(settings, None, CUT)
    land_indicator_values(settings)  # from staging.raw_klines, as Spark would after dbt_base
    run_dbt(settings, ["build", *SELECT], capture=True)
    states.first = snapshot_all(settings)

    # 2. the same data again
    run_dbt(settings, ["run", *RUN_SELECT], capture=True)
    states.rebuilt = snapshot_all(settings)

    # 3. one new candle per symbol; incremental without look-back; an old candle is tampered
    #    with (trade_count, read by no later model) to show the incremental run leaves it alone
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("update fact_kline set trade_count = -7 where open_time = %s", (SLICE_START,))
        conn.commit()
    land_klines(settings, start=CUT, end=CUT + ONE_HOUR)
    land_indicator_values(settings)
    run_dbt(settings, ["run", *RUN_SELECT, "--vars", "{kline_lookback_minutes: 0}"],
            capture=True)
    states.untouched_marker = fetch(
        settings, "select distinct trade_count from fact_kline where open_time = %s",
        (SLICE_START,))
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("update fact_kline set trade_count = null where open_time = %s",
                    (SLICE_START,))
        conn.commit()
    states.incremental = snapshot_all(settings)

    # 4. the same data, --full-refresh
    run_dbt(settings, ["run", *RUN_SELECT, "--full-refresh"], capture=True)
    states.full_refresh = snapshot_all(settings)

    # 5. everything else (candles and news after CUT), incremental
    land_klines(settings, start=CUT + ONE_HOUR, end=SLICE_END)
    land_news_between(settings, CUT, None)
    land_indicator_values(settings)
    run_dbt(settings, ["run", *RUN_SELECT], capture=True)
    states.final = snapshot_all(settings)
    states.final_before_cut = {
        table: snapshot(settings, table, f"open_time < '{CUT:%Y-%m-%d %H:%M:%S}'")
        for table in TABLE_KEYS}
    return states


@pytest.fixture(scope="session")
def warehouse(warehouse_states) -> Settings:
    """Settings of the session warehouse, fully built on the default slice + all news."""
    return warehouse_states.settings
