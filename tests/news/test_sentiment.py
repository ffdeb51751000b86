"""VADER with the crypto lexicon extension."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from loaders.news_sentiment import CRYPTO_LEXICON, score_text


@pytest.mark.parametrize("word", sorted(CRYPTO_LEXICON))
def test_each_lexicon_word_moves_the_score_its_way(word):
    compound = score_text(f"Bitcoin {word} today")["compound"]
    valence = CRYPTO_LEXICON[word]
    assert compound * valence > 0, (word, compound)


def test_the_extension_changes_what_plain_vader_misses():
    plain = SentimentIntensityAnalyzer()
    headline = "Bitcoin plunges as exchange gets hacked and token is exploited"
    assert plain.polarity_scores(headline)["compound"] > score_text(headline)["compound"]
    assert plain.polarity_scores("ETH rallies, bulls eye ATH")["compound"] == 0
    assert score_text("ETH rallies, bulls eye ATH")["compound"] > 0.5


def test_compound_uses_title_and_summary():
    title_only = score_text("Bitcoin update")["compound"]
    with_summary = score_text("Bitcoin update", "A bloodbath: prices plunge")["compound"]
    assert title_only == 0 and with_summary < -0.5
    scores = score_text("Bitcoin soars")
    assert set(scores) == {"neg", "neu", "pos", "compound"}
    assert -1 <= scores["compound"] <= 1
