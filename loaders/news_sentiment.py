"""News sentiment and tags: the pipeline step ``news_sentiment``.

Reads the landed articles (staging.raw_news), scores each one with VADER (compound score of
title + summary) extended by a small crypto lexicon, tags the coins (BTC, ETH, BNB) and topics
it concerns, and writes the staging tables ``news_scores`` and ``news_tags`` that dbt turns
into ``fact_news_article``, ``bridge_news_article_tag`` and ``news_sentiment_weighted_fact``.

Why here and not in dbt: VADER is a Python library, and scoring once at this step keeps the
warehouse build pure SQL. The step is idempotent: it (re)scores only articles that are new,
changed since they were scored, or scored with an older lexicon version, and replaces their
tags, so running it twice writes the same rows.

Tagging uses whole-word regular expressions, never substrings: "ETH" does not match inside
"method", "BTC" not inside "WBTC", "mining" not inside "undermining", "hack" not in
"hackathon". Tickers and acronyms that are also English words or fragments ("SEC", "Fed",
"ETH") are matched case-sensitively.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from cryptoquant import db
from cryptoquant.config import Settings

logger = logging.getLogger(__name__)

LEXICON_VERSION = "crypto-1"

# Crypto words VADER's general-purpose lexicon lacks (or scores as neutral), on VADER's
# -4..+4 valence scale. Chosen from the bundled headlines; tests/news/test_news_sentiment.py
# checks that each one moves a sentence the right way.
CRYPTO_LEXICON: dict[str, float] = {
    # market direction
    "bullish": 2.0, "bull": 1.2, "bulls": 1.2, "bearish": -2.0, "bear": -1.2, "bears": -1.2,
    "rally": 1.8, "rallies": 1.8, "rallied": 1.8, "surge": 1.8, "surges": 1.8, "surged": 1.8,
    "soar": 2.0, "soars": 2.0, "soared": 2.0, "jumps": 1.2, "climbs": 1.0, "rebound": 1.4,
    "rebounds": 1.4, "recovers": 1.4, "breakout": 1.2, "uptrend": 1.5, "ath": 1.8,
    "moon": 2.0, "mooning": 2.0, "pump": 1.0, "inflows": 1.0, "adoption": 1.2, "hodl": 0.8,
    "plunge": -2.2, "plunges": -2.2, "plunged": -2.2, "slump": -1.8, "slumps": -1.8,
    "tumbles": -1.8, "tumble": -1.8, "sinks": -1.5, "slides": -1.2, "drops": -1.0,
    "dip": -0.8, "selloff": -2.0, "sell-off": -2.0, "downtrend": -1.5, "capitulation": -2.0,
    "bloodbath": -2.8, "liquidated": -1.8, "liquidations": -1.5, "outflows": -1.0,
    "correction": -1.0,
    # incidents and regulation
    "hack": -2.5, "hacks": -2.5, "hacker": -2.2, "hackers": -2.2, "exploit": -2.2,
    "exploited": -2.4, "exploits": -2.2, "rugpull": -3.0, "rug": -1.5, "crackdown": -2.0,
    "delist": -1.6, "delists": -1.6, "delisting": -1.6, "sues": -1.6, "insolvent": -2.8,
    "insolvency": -2.8, "bankruptcy": -2.8, "depeg": -2.4, "depegs": -2.4,
}


@dataclass(frozen=True)
class TagRule:
    tag_code: str
    patterns: tuple[str, ...]  # case-insensitive, whole words
    exact_case: tuple[str, ...] = ()  # case-sensitive (tickers, acronyms), whole words


TAG_RULES: tuple[TagRule, ...] = (
    # coins (tag_code -> symbol via seed tags.csv)
    TagRule("btc", (r"bitcoins?(?!\s+(?:cash|sv|gold)\b)", r"satoshis?", r"sats"),
            (r"BTC(?:USDT?)?", r"XBT", r"Btc")),
    TagRule("eth", (r"ethereum(?!\s+classic\b)", r"ether", r"vitalik(?:\s+buterin)?"),
            (r"ETH(?:USDT?|2)?", r"Eth")),
    TagRule("bnb", (r"binance\s+coin", r"bnb\s+(?:chain|smart\s+chain)",
                    r"binance\s+smart\s+chain"),
            (r"BNB(?:USDT?)?", r"BSC")),
    # topics
    TagRule("regulation", (r"regulat\w*", r"lawsuits?", r"sues", r"sued", r"legislat\w*",
                           r"lawmakers?", r"senators?", r"congress", r"crackdown", r"bans?",
                           r"banned", r"sanction\w*", r"court", r"compliance", r"taxe?s?",
                           r"taxation", r"cbdcs?", r"central\s+banks?", r"licen[cs]e[sd]?"),
            (r"SEC", r"CFTC", r"IRS", r"FATF", r"MiCA", r"Gensler")),
    TagRule("etf", (r"etfs?", r"etps?", r"exchange[-\s]traded", r"gbtc")),
    TagRule("hack", (r"hack(?:s|ed|er|ers|ing)?", r"exploit(?:s|ed|er|ers)?", r"stolen",
                     r"theft", r"steal(?:s|ing)?", r"drained", r"rug\s*pulls?", r"rugpulls?",
                     r"scams?", r"scammers?", r"phishing", r"breach(?:ed|es)?",
                     r"attackers?")),
    TagRule("exchange", (r"binance(?!\s+(?:coin|smart\s+chain)\b)", r"coinbase", r"ftx",
                         r"kraken", r"bitfinex", r"huobi", r"okx", r"okex", r"kucoin",
                         r"gemini", r"bybit", r"bitstamp", r"crypto\.com",
                         r"exchanges?(?![-\s]traded)", r"delist\w*", r"listings?",
                         r"withdrawals?")),
    TagRule("macro", (r"inflation", r"interest\s+rates?", r"rate\s+hikes?", r"federal\s+reserve",
                      r"recession", r"stock\s+markets?", r"stocks", r"equities", r"nasdaq",
                      r"s&p\s*500", r"treasury", r"bond\s+yields?", r"gdp", r"unemployment",
                      r"macro\w*", r"dollar", r"dxy", r"powell"),
             (r"Fed", r"FOMC", r"CPI")),
    TagRule("defi", (r"defi", r"decentrali[sz]ed\s+finance", r"dexe?s?", r"tvl",
                     r"liquidity\s+pools?", r"yield\s+farm\w*", r"uniswap", r"aave",
                     r"pancakeswap", r"lending\s+protocols?")),
    TagRule("nft", (r"nfts?", r"non[-\s]fungible", r"opensea", r"bored\s+apes?")),
    TagRule("mining", (r"min(?:ing|ers?)", r"hash\s*rate", r"hashrate", r"proof[-\s]of[-\s]work")),
    TagRule("stablecoin", (r"stablecoins?", r"stable\s+coins?", r"tether", r"usdt", r"usdc",
                           r"busd", r"terrausd", r"de-?peg\w*"),
            (r"DAI", r"UST")),
)


def _word(pattern: str) -> str:
    # \b fails next to non-word characters such as "&" or ".", so use look-arounds instead.
    return rf"(?<![\w]){pattern}(?![\w])"


@cache
def _compiled() -> tuple[tuple[str, re.Pattern | None, re.Pattern | None], ...]:
    out = []
    for rule in TAG_RULES:
        loose = re.compile("|".join(_word(p) for p in rule.patterns), re.IGNORECASE) \
            if rule.patterns else None
        exact = re.compile("|".join(_word(p) for p in rule.exact_case)) \
            if rule.exact_case else None
        out.append((rule.tag_code, loose, exact))
    return tuple(out)


_TAGS_RE = re.compile(r"<[^>]+>")


def clean_text(*parts: str | None) -> str:
    """Title and summary as one plain-text string (HTML tags and entities removed)."""
    text = ". ".join(p.strip() for p in parts if p and p.strip())
    return " ".join(html.unescape(_TAGS_RE.sub(" ", text)).split())


def tag_article(title: str | None, summary: str | None = None) -> list[str]:
    """The tag codes (coins and topics) an article concerns, in TAG_RULES order."""
    text = clean_text(title, summary)
    tags = []
    for code, loose, exact in _compiled():
        if (loose and loose.search(text)) or (exact and exact.search(text)):
            tags.append(code)
    return tags


@cache
def analyzer():
    """VADER with the crypto lexicon merged in (built once per process)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    sia.lexicon.update(CRYPTO_LEXICON)
    return sia


def score_text(title: str | None, summary: str | None = None) -> dict[str, float]:
    """VADER polarity scores (compound, pos, neg, neu) of title + summary."""
    return analyzer().polarity_scores(clean_text(title, summary))


# ---- the staging tables ---------------------------------------------------------------------
DDL = (
    """create table if not exists news_scores (
        article_id          char(64)    not null,
        sentiment_compound  double      not null comment 'VADER compound, -1..1',
        sentiment_positive  double      not null,
        sentiment_negative  double      not null,
        sentiment_neutral   double      not null,
        lexicon_version     varchar(16) not null,
        scored_at           datetime(3) not null comment 'UTC',
        primary key (article_id)
    ) engine = InnoDB default charset = utf8mb4""",
    """create table if not exists news_tags (
        article_id  char(64)    not null,
        tag_code    varchar(32) not null,
        tagged_at   datetime(3) not null comment 'UTC',
        primary key (article_id, tag_code)
    ) engine = InnoDB default charset = utf8mb4""",
)

PENDING_SQL = """
    select n.article_id, n.title, n.summary
    from raw_news as n
    left join news_scores as s on s.article_id = n.article_id
    where s.article_id is null or s.lexicon_version <> %s or n.landed_at > s.scored_at
"""


def ensure_tables(settings: Settings) -> None:
    with db.staging(settings) as conn, conn.cursor() as cur:
        for statement in DDL:
            cur.execute(statement)
        conn.commit()


def _chunks(rows: list, size: int = 2000) -> Iterable[list]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def run_step(settings: Settings, rescore_all: bool = False) -> dict:
    """Score and tag new or changed articles; returns counts for the pipeline log."""
    ensure_tables(settings)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with db.staging(settings) as conn, conn.cursor() as cur:
        if rescore_all:
            cur.execute("select article_id, title, summary from raw_news")
        else:
            cur.execute(PENDING_SQL, (LEXICON_VERSION,))
        articles = cur.fetchall()
        scores, tags = [], []
        for article_id, title, summary in articles:
            s = score_text(title, summary)
            scores.append((article_id, s["compound"], s["pos"], s["neg"], s["neu"],
                           LEXICON_VERSION, now))
            tags.extend((article_id, code, now) for code in tag_article(title, summary))
        for chunk in _chunks([(a[0],) for a in articles]):
            cur.executemany("delete from news_tags where article_id = %s", chunk)
        for chunk in _chunks(scores):
            cur.executemany(
                "insert into news_scores (article_id, sentiment_compound, sentiment_positive, "
                "sentiment_negative, sentiment_neutral, lexicon_version, scored_at) values "
                "(%s, %s, %s, %s, %s, %s, %s) on duplicate key update "
                "sentiment_compound = values(sentiment_compound), "
                "sentiment_positive = values(sentiment_positive), "
                "sentiment_negative = values(sentiment_negative), "
                "sentiment_neutral = values(sentiment_neutral), "
                "lexicon_version = values(lexicon_version), scored_at = values(scored_at)",
                chunk)
        for chunk in _chunks(tags):
            cur.executemany(
                "insert into news_tags (article_id, tag_code, tagged_at) values (%s, %s, %s)",
                chunk)
        conn.commit()
    logger.info("scored %d articles, %d tags", len(scores), len(tags))
    return {"articles_scored": len(scores), "tags_written": len(tags),
            "lexicon_version": LEXICON_VERSION}
