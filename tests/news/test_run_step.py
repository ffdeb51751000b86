"""The news_sentiment step writes news_scores and news_tags idempotently."""

from __future__ import annotations

import pytest

from cryptoquant import db
from loaders import news_sentiment
from tests.news.news_fixture import land_news, read_news


def _tables(settings):
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select article_id, sentiment_compound, lexicon_version from news_scores "
                    "order by article_id")
        scores = cur.fetchall()
        cur.execute("select article_id, tag_code from news_tags order by 1, 2")
        tags = cur.fetchall()
    return scores, tags


@pytest.mark.integration
def test_run_step_is_idempotent_and_rescores_changed_articles(make_settings):
    settings = make_settings("news")
    articles = read_news().head(300)
    land_news(settings, articles)

    first = news_sentiment.run_step(settings)
    assert first["articles_scored"] == 300 and first["tags_written"] > 100
    scores, tags = _tables(settings)
    assert len(scores) == 300 and {s[2] for s in scores} == {news_sentiment.LEXICON_VERSION}

    assert news_sentiment.run_step(settings)["articles_scored"] == 0
    assert _tables(settings) == (scores, tags)

    # an article whose title changes (e.g. a corrected headline) is scored and tagged again
    article_id = scores[0][0]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("update raw_news set title = 'Bitcoin ETF approved, BTC soars', "
                    "summary = '' where article_id = %s", (article_id,))
        conn.commit()
    again = news_sentiment.run_step(settings)
    assert again["articles_scored"] == 1
    new_scores, new_tags = _tables(settings)
    assert dict((a, s) for a, s, _ in new_scores)[article_id] > 0.5
    assert {t for a, t in new_tags if a == article_id} == {"btc", "etf"}
    assert len(new_scores) == 300
