"""fact_kline writes only the candles that landed or changed since it last ran. Its look-back
(60 minutes of landed_at, for late commits) re-reads candles already stored; those keep their
refreshed_at, the change feed from which mart_regime and mart_price_regression recompute a
series (a re-read that rewrote them made those marts recompute every series from its first
candle). A re-landed candle with a changed price and the new candles are rewritten, and the
table still equals a --full-refresh."""

from __future__ import annotations

import datetime as dt

import pytest

from cryptoquant import db
from cryptoquant.dbt import run_dbt
from tests.dbt.conftest import BASE_SELECT, fetch
from tests.support.sample import land_klines

pytestmark = pytest.mark.integration

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
START, CUT = dt.datetime(2022, 1, 1), dt.datetime(2022, 1, 3)
RELANDED = ("ETHUSDT", dt.datetime(2022, 1, 2, 5))
COLUMNS = ("symbol_id, interval_id, open_time, open, high, low, close, volume, close_at, "
           "landed_at")


def stamps(settings) -> dict[tuple, dt.datetime]:
    return {(r[0], r[1]): r[2] for r in fetch(
        settings, "select s.symbol_code, k.open_time, k.refreshed_at from fact_kline k "
                  "join dim_symbol s on s.symbol_id = k.symbol_id")}


@pytest.fixture(scope="module")
def kline_runs(make_settings, dbt_target_path):
    settings = make_settings("klinefeed")

    def run(*args):
        run_dbt(settings, [*args, "--target-path", dbt_target_path], capture=True)

    land_klines(settings, SYMBOLS, START, CUT)
    run("build", *BASE_SELECT)
    first = stamps(settings)
    run("run", "--select", "fact_kline")  # every candle landed within the look-back
    again = stamps(settings)
    with db.staging(settings) as conn, conn.cursor() as cur:
        # the upsert of a changed price moves landed_at (on update current_timestamp)
        cur.execute("update raw_klines set close = (high + low) / 2 "
                    "where symbol = %s and open_time = %s and close <> (high + low) / 2",
                    RELANDED)
        assert cur.rowcount == 1
        conn.commit()
    land_klines(settings, SYMBOLS, CUT, CUT + dt.timedelta(hours=1))
    run("run", "--select", "fact_kline")
    third = stamps(settings)
    incremental = fetch(settings, f"select {COLUMNS} from fact_kline order by 1, 2, 3")
    run("run", "--select", "fact_kline", "--full-refresh")
    full = fetch(settings, f"select {COLUMNS} from fact_kline order by 1, 2, 3")
    return first, again, third, incremental, full


def test_a_look_back_re_read_rewrites_no_candle(kline_runs):
    first, again, *_ = kline_runs
    assert len(first) == 2 * 48
    assert again == first


def test_only_the_changed_and_new_candles_are_rewritten(kline_runs):
    first, _, third, *_ = kline_runs
    run_at = max(third.values())
    rewritten = {key for key, at in third.items() if at == run_at}
    assert rewritten == {RELANDED, *((symbol, CUT) for symbol in SYMBOLS)}
    assert all(third[key] == first[key] for key in first if key not in rewritten)


def test_incremental_equals_full_refresh(kline_runs):
    *_, incremental, full = kline_runs
    assert len(incremental) == 2 * 49
    assert incremental == full
