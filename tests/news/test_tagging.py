"""Coin and topic tags on tricky headlines: whole words only, aliases, look-alike coins."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cryptoquant.config import PROJECT_ROOT
from loaders.news_sentiment import TAG_RULES, clean_text, tag_article

COINS = {"btc", "eth", "bnb"}

# headline, coin tags expected (exactly), topic tags that must be present, topics that must not
TRICKY_HEADLINES = [
    ("A new method for sharding is proposed", set(), set(), {"mining"}),
    ("Ethereum Classic hashrate hits a record", set(), {"mining"}, set()),
    ("Bitcoin Cash and Bitcoin SV fork again", set(), set(), set()),
    ("WBTC supply on Ethereum grows", {"eth"}, set(), set()),
    ("BTC/USDT tests $40K as the Fed signals rate hikes", {"btc"}, {"macro", "stablecoin"}, set()),
    ("$BTC and $ETH dip after CPI print", {"btc", "eth"}, {"macro"}, set()),
    ("Binance lists a new token; BNB jumps 5%", {"bnb"}, {"exchange"}, set()),
    ("Binance Coin rallies to a new high", {"bnb"}, set(), {"exchange"}),
    ("Hackathon winners build on BNB Chain", {"bnb"}, set(), {"hack"}),
    ("DeFi protocol exploited for $600M, attacker returns funds", set(), {"defi", "hack"}, set()),
    ("SEC delays decision on spot Bitcoin ETF", {"btc"}, {"regulation", "etf"}, {"exchange"}),
    ("VanEck files for an exchange-traded fund", set(), {"etf"}, {"exchange"}),
    ("Undermining trust: analysts second-guess the rally", set(), set(),
     {"mining", "regulation", "stablecoin"}),
    ("GRAYSCALE BITCOIN TRUST DISCOUNT WIDENS", {"btc"}, set(), {"stablecoin"}),
    ("Ether and Vitalik Buterin: what's next after the Merge", {"eth"}, set(), set()),
    ("Satoshi-era coins move for the first time", {"btc"}, set(), set()),
    ("Tether's USDT de-pegs briefly as Terra's UST collapses", set(), {"stablecoin"}, set()),
    ("Crypto.com exchange suffers a breach", set(), {"exchange", "hack"}, set()),
    ("Miners sell as the hash rate peaks", set(), {"mining"}, set()),
    ("Bored Ape NFTs slump on OpenSea", set(), {"nft"}, set()),
    ("Senators push a stablecoin bill", set(), {"regulation", "stablecoin"}, set()),
    ("Ethereum's second layer grows", {"eth"}, set(), {"regulation"}),
    ("Inflation data lifts stocks and crypto", set(), {"macro"}, set()),
    ("Something else entirely", set(), set(), {"regulation", "etf", "hack", "exchange", "macro"}),
]


@pytest.mark.parametrize(("headline", "coins", "present", "absent"), TRICKY_HEADLINES,
                         ids=[h[0][:40] for h in TRICKY_HEADLINES])
def test_tricky_headlines(headline, coins, present, absent):
    tags = set(tag_article(headline))
    assert tags & COINS == coins
    assert present <= tags, f"missing {present - tags}"
    assert not tags & absent, f"unexpected {tags & absent}"


def test_summary_counts_too_and_html_is_ignored():
    assert tag_article("Market wrap", "<p>Bitcoin <b>rallies</b></p>") == ["btc"]
    assert clean_text("Title", "<p>a &amp; b</p>") == "Title. a & b"
    assert "eth" not in tag_article("Market wrap", '<a href="https://x.com/eth">link</a>')


def test_tag_rules_match_the_tag_seed():
    seed = PROJECT_ROOT / "dbt_project" / "seeds" / "tags.csv"
    with Path(seed).open(newline="") as fh:
        seeded = {row["tag_code"] for row in csv.DictReader(fh)}
    assert {rule.tag_code for rule in TAG_RULES} == seeded
