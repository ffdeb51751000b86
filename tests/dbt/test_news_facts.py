"""The bundled news dataset lands, is scored and tagged, and produces facts over its period."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dbt.conftest import SLICE_CANDLES, fetch
from tests.news.news_fixture import read_news


@pytest.mark.integration
def test_all_bundled_articles_reach_the_warehouse(warehouse):
    expected = len(read_news())
    assert expected == 7524
    rows = fetch(warehouse, "select count(*), sum(is_scored), min(published_at), "
                            "max(published_at) from fact_news_article")
    assert rows == [(7524, 7524, dt.datetime(2021, 10, 12, 20), dt.datetime(2022, 7, 5, 4, 24))]
    per_tag = dict(fetch(warehouse, "select tag_code, count(*) from bridge_news_article_tag "
                                    "group by 1"))
    assert per_tag["btc"] > 1000 and per_tag["eth"] > 300 and per_tag["bnb"] > 20
    assert {"regulation", "etf", "hack", "exchange", "macro"} <= set(per_tag)


@pytest.mark.integration
def test_sentiment_facts_over_the_candle_period(warehouse):
    rows = fetch(warehouse,
                 "select s.symbol_code, count(*), sum(f.article_count > 0), "
                 "min(f.sentiment_weighted), max(f.sentiment_weighted) "
                 "from news_sentiment_weighted_fact f join dim_symbol s using (symbol_id) "
                 "group by 1 order by 1")
    assert [r[0] for r in rows] == ["BNBUSDT", "BTCUSDT", "ETHUSDT"]
    for symbol, candles, with_news, low, high in rows:
        assert candles == SLICE_CANDLES, symbol
        assert with_news > 0, symbol
        assert -1 <= low < high <= 1, symbol
    # Bitcoin is in the news nearly all the time in 2022
    btc = dict((r[0], r[2]) for r in rows)["BTCUSDT"]
    assert btc > 0.95 * SLICE_CANDLES


@pytest.mark.integration
def test_no_article_after_the_close_counts(warehouse):
    late = fetch(warehouse, "select count(*) from news_sentiment_weighted_fact "
                            "where latest_published_at > close_at")
    assert late == [(0,)]
    # recompute one candle by hand from the articles: count of BTC articles in the horizon
    (close_at,) = fetch(warehouse, "select close_at from news_sentiment_weighted_fact "
                                   "where symbol_id = 1 and open_time = '2022-02-20 10:00:00'")[0]
    expected = fetch(
        warehouse,
        "select count(*) from fact_news_article a join bridge_news_article_tag b "
        "using (article_id) where b.tag_code = 'btc' and a.published_at <= %s "
        "and a.published_at > %s - interval 72 hour", (close_at, close_at))
    actual = fetch(warehouse, "select article_count from news_sentiment_weighted_fact "
                              "where symbol_id = 1 and open_time = '2022-02-20 10:00:00'")
    assert actual == expected and expected[0][0] > 0
