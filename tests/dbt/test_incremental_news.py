"""The news models built incrementally equal a --full-refresh, row for row.

int_news_articles_expanded_to_candles and news_sentiment_weighted_fact are incremental per
series: new or re-landed candles (fact_kline's refreshed_at), new, re-scored, moved or untagged
articles (compared with the stored article rows) and the news vars (build fingerprint) decide
what is recomputed. Two warehouses get the same data step by step: one is built incrementally
throughout, the other with --full-refresh after every step; after each step both news tables
must hold the same rows (EXCEPT both ways, every column but refreshed_at):

* first:      the first build (candles to NEW_CANDLE, articles up to HELD_BACK[0]);
* new_candle: one new candle per symbol;
* new_article: articles published in HELD_BACK that land only now (late news);
* rescored:   a new lexicon version that changes the score of some articles;
* untagged_moved: an article loses its coin tag (a hand-made one, the only article of the
  candles after the real news' horizon, so those candles are left without articles and no
  expanded row is left in the series to announce them) and another article's publication
  moves;
* vars:       news_horizon_hours / news_half_life_hours changed (a full rebuild by itself);
* vars_new_candle: one more candle per symbol under the changed vars.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from cryptoquant import db
from cryptoquant.dbt import run_dbt
from loaders import news_sentiment
from tests.dbt.conftest import BASE_SELECT
from tests.news.news_fixture import land_news, read_news
from tests.support.sample import land_klines

pytestmark = pytest.mark.integration

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
# the real news end on 2022-07-05 04:24; the candles run on for days after it
START, NEW_CANDLE = dt.datetime(2022, 6, 28), dt.datetime(2022, 7, 9)
ONE_HOUR = dt.timedelta(hours=1)
HELD_BACK = (dt.datetime(2022, 7, 2), dt.datetime(2022, 7, 4))  # published, landed late
LONE_ARTICLE_AT = dt.datetime(2022, 7, 8, 6, 30)  # after the real news horizon ends
NEWS_MODELS = ["path:dbt_project/models/intermediate/news", "path:dbt_project/models/marts/news"]
RUN_SELECT = ["--select", "path:dbt_project/models/marts/core", *NEWS_MODELS]
TABLES = ("int_news_articles_expanded_to_candles", "news_sentiment_weighted_fact")
NEW_VARS = "{news_horizon_hours: 48, news_half_life_hours: 6}"
STEPS = ("first", "new_candle", "new_article", "rescored", "untagged_moved", "vars",
         "vars_new_candle")


def lone_article() -> pd.DataFrame:
    url = "https://example.test/lone-bitcoin-article"
    return pd.DataFrame([{
        "article_id": hashlib.sha256(url.encode()).hexdigest(), "url": url,
        "title": "Bitcoin surges in a hand-made test article", "text": "", "source": "test",
        "subject": "bitcoin", "published_at": pd.Timestamp(LONE_ARTICLE_AT), "sentiment": "",
    }])


def compare(base_settings, incremental, full) -> dict[str, tuple[int, int, int]]:
    """Per table: (rows, rows only in the incremental build, rows only in the full one)."""
    out = {}
    with db.connection(base_settings, role="admin") as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute("select column_name from information_schema.columns "
                        "where table_schema = %s and table_name = %s "
                        "and column_name <> 'refreshed_at' order by ordinal_position",
                        (full.mysql_warehouse_database, table))
            columns = ", ".join(f"`{c[0]}`" for c in cur.fetchall())
            a = f"`{incremental.mysql_warehouse_database}`.`{table}`"
            b = f"`{full.mysql_warehouse_database}`.`{table}`"
            counts = []
            for sql in (f"select count(*) from {a}",
                        f"select count(*) from (select {columns} from {a} "
                        f"except select {columns} from {b}) as only_incremental",
                        f"select count(*) from (select {columns} from {b} "
                        f"except select {columns} from {a}) as only_full"):
                cur.execute(sql)
                counts.append(cur.fetchone()[0])
            cur.execute(f"select count(*) from {b}")
            assert cur.fetchone()[0] == counts[0], table
            out[table] = tuple(counts)
    return out


def lone_candles_with_articles(settings) -> int:
    """BTC candles from the lone article on, before the new candles, that count an article (only
    the lone article can reach them: the real news' horizon ends at 2022-07-08 04:24)."""
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from news_sentiment_weighted_fact as news "
                    "join dim_symbol as symbols on symbols.symbol_id = news.symbol_id "
                    "where symbols.symbol_code = 'BTCUSDT' and news.article_count > 0 "
                    "and news.open_time between '2022-07-08 06:00' and '2022-07-08 23:00'")
        return cur.fetchone()[0]


def rows_of_last_write(settings, table: str) -> int:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {table} "
                    f"where refreshed_at = (select max(refreshed_at) from {table})")
        return cur.fetchone()[0]


@pytest.fixture(scope="module")
def news_steps(base_settings, make_settings, dbt_target_path):
    incremental, full = make_settings("newsinc"), make_settings("newsfull")
    both = (incremental, full)
    results, written, lone = {}, {}, {}

    def dbt(settings, *args):
        run_dbt(settings, [*args, "--target-path", dbt_target_path], capture=True)

    def build(step, *args):
        dbt(incremental, "run", *RUN_SELECT, *args)
        dbt(full, "run", *RUN_SELECT, *args, "--full-refresh")
        results[step] = compare(base_settings, incremental, full)
        written[step] = {table: rows_of_last_write(incremental, table) for table in TABLES}

    news = read_news()
    held_back = (news.published_at > HELD_BACK[0]) & (news.published_at <= HELD_BACK[1])
    for settings in both:
        land_klines(settings, SYMBOLS, START, NEW_CANDLE)
        land_news(settings, pd.concat([news[~held_back], lone_article()], ignore_index=True))
        news_sentiment.run_step(settings)
        dbt(settings, "build", *BASE_SELECT)
        dbt(settings, "build", "--select", *NEWS_MODELS)  # with the models' schema tests
    results["first"] = compare(base_settings, incremental, full)

    for settings in both:
        land_klines(settings, SYMBOLS, NEW_CANDLE, NEW_CANDLE + ONE_HOUR)
    build("new_candle")

    for settings in both:
        land_news(settings, news[held_back])
        news_sentiment.run_step(settings)
    build("new_article")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(news_sentiment, "LEXICON_VERSION", "crypto-test")
        patch.setitem(news_sentiment.CRYPTO_LEXICON, "surges", -1.5)
        patch.setitem(news_sentiment.CRYPTO_LEXICON, "hack", -3.5)
        news_sentiment.analyzer.cache_clear()
        for settings in both:
            news_sentiment.run_step(settings)
    news_sentiment.analyzer.cache_clear()
    build("rescored")

    lone["tagged"] = lone_candles_with_articles(incremental)
    moved = news[~held_back & (news.published_at > dt.datetime(2022, 7, 1))].sort_values(
        "published_at").iloc[0]  # by 5 hours: its horizon still ends before the lone candles
    for settings in both:
        with db.staging(settings) as conn, conn.cursor() as cur:
            cur.execute("delete from news_tags where article_id = %s and tag_code = 'btc'",
                        (lone_article().article_id[0],))
            assert cur.rowcount == 1
            cur.execute("update raw_news set published_at = published_at + interval 5 hour "
                        "where article_id = %s", (moved.article_id,))
            assert cur.rowcount == 1
            conn.commit()
    build("untagged_moved")
    lone["untagged"] = lone_candles_with_articles(incremental)

    build("vars", "--vars", NEW_VARS)

    for settings in both:
        land_klines(settings, SYMBOLS, NEW_CANDLE + ONE_HOUR, NEW_CANDLE + 2 * ONE_HOUR)
    build("vars_new_candle", "--vars", NEW_VARS)
    return results, written, lone


@pytest.mark.parametrize("step", STEPS)
def test_incremental_equals_full_refresh(news_steps, step):
    results, *_ = news_steps
    for table, (rows, only_incremental, only_full) in results[step].items():
        assert rows > 0, table
        assert (only_incremental, only_full) == (0, 0), (table, results[step])


def test_a_new_candle_rewrites_only_its_own_rows(news_steps):
    """After one new candle per symbol, the per-candle fact writes those two candles, and the
    expansion only the lone article's row on the new BTC candle: not the whole history."""
    _, written, _ = news_steps
    assert written["new_candle"] == {"int_news_articles_expanded_to_candles": 1,
                                     "news_sentiment_weighted_fact": 2}


def test_the_untagged_article_leaves_candles_without_articles(news_steps):
    """The candles after the real news' horizon had only the lone article; once it lost its
    coin tag they count none, although no expanded row is left to announce them."""
    *_, lone = news_steps
    assert lone == {"tagged": 18, "untagged": 0}
