"""Gap policy: real exchange outages are recorded (fact_kline_gap, no_kline_gaps passes), the
placeholder candle is kept and flagged, and an unexplained gap fails the no_kline_gaps test."""

from __future__ import annotations

import datetime as dt

import pytest

from cryptoquant import db
from cryptoquant.dbt import DbtFailed, run_dbt
from tests.dbt.conftest import BASE_SELECT, fetch
from tests.support.sample import land_klines


@pytest.fixture(scope="module")
def outage_warehouse(make_settings, dbt_target_path):
    settings = make_settings("gaps")
    # BTCUSDT around the 2023-03-24 outage (placeholder at 12:00, no 13:00 candle);
    # ETHUSDT and BNBUSDT around the 2021-04-20 and 2021-04-25 outages
    land_klines(settings, ["BTCUSDT"], dt.datetime(2023, 3, 23), dt.datetime(2023, 3, 26))
    land_klines(settings, ["ETHUSDT", "BNBUSDT"], dt.datetime(2021, 4, 18), dt.datetime(2021, 4, 27))
    run_dbt(settings, ["build", *BASE_SELECT, "--target-path", dbt_target_path], capture=True)
    return settings


@pytest.mark.integration
def test_known_outages_are_recorded_as_gaps(outage_warehouse):
    gaps = fetch(outage_warehouse,
                 "select s.symbol_code, g.gap_start_at, g.gap_end_at, g.missing_candles, "
                 "g.is_known_outage, g.outage_id from fact_kline_gap g "
                 "join dim_symbol s using (symbol_id) order by 1, 2")
    at = dt.datetime
    assert gaps == [
        ("BNBUSDT", at(2021, 4, 20, 2), at(2021, 4, 20, 4), 2, 1, 1),
        ("BNBUSDT", at(2021, 4, 25, 5), at(2021, 4, 25, 8), 3, 1, 2),
        ("BTCUSDT", at(2023, 3, 24, 13), at(2023, 3, 24, 14), 1, 1, 5),
        ("ETHUSDT", at(2021, 4, 20, 2), at(2021, 4, 20, 4), 2, 1, 1),
        ("ETHUSDT", at(2021, 4, 25, 5), at(2021, 4, 25, 8), 3, 1, 2),
    ]


@pytest.mark.integration
def test_placeholder_candle_is_kept_and_flagged(outage_warehouse):
    flagged = fetch(outage_warehouse,
                    "select open_time, volume, open = close from fact_kline "
                    "where is_placeholder_candle = 1")
    assert flagged == [(dt.datetime(2023, 3, 24, 12), 0, 1)]


@pytest.mark.integration
def test_unexplained_gap_fails_no_kline_gaps(outage_warehouse, dbt_target_path):
    with db.staging(outage_warehouse) as conn, conn.cursor() as cur:
        cur.execute("delete from raw_klines where symbol = 'ETHUSDT' and open_time = %s",
                    (dt.datetime(2021, 4, 22, 10),))
        conn.commit()
    with pytest.raises(DbtFailed, match="no_kline_gaps"):
        run_dbt(outage_warehouse, ["build", "--select", "fact_kline", "--full-refresh",
                                   "--target-path", dbt_target_path], capture=True)
    # the failing test stops the models after fact_kline; the gap list records the new gap
    run_dbt(outage_warehouse, ["run", "--select", "fact_kline_gap",
                               "--target-path", dbt_target_path], capture=True)
    gaps = fetch(outage_warehouse, "select gap_start_at, is_known_outage from fact_kline_gap "
                                   "where gap_start_at = '2021-04-22 10:00:00'")
    assert gaps == [(dt.datetime(2021, 4, 22, 10), 0)]
