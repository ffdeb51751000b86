"""News producers: the bundled historical dataset and an RSS/Atom crawler.

Articles are identified by ``article_id`` = sha256 of the canonical URL (scheme and host
lower-cased, ``utm_*``/tracking parameters and the fragment removed, trailing slash dropped),
so the same story seen in a feed and in the dataset, or twice in a feed, lands once. An item
without a URL falls back to the hash of publisher + title + publication time.

A dataset row without a title uses its summary as the headline. The dataset's ``date`` column has no time zone; it is read as UTC (assumption, documented in
docs/warehouse.md). Feed dates carry their zone and are converted to UTC.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import gzip
import hashlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
import requests

from cryptoquant import db
from cryptoquant.config import Settings
from loaders.messages import encode_news
from loaders.producer import Publisher
from loaders.progress import Progress

logger = logging.getLogger(__name__)

TRACKING_PREFIXES = ("utm_", "mc_", "fbclid", "gclid", "ref")
DATASET_DATE_FORMAT = "%d-%m-%Y %H:%M"


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(TRACKING_PREFIXES)]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def article_id(url: str | None, publisher: str = "", title: str = "", published: str = "") -> str:
    if url and url.strip().lower().startswith(("http://", "https://")):
        basis = canonical_url(url)
    else:
        basis = f"{publisher}|{title}|{published}"
    return hashlib.sha256(basis.encode()).hexdigest()


# ---- the bundled dataset ------------------------------------------------------------------
def read_dataset(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line, article, error) per row of the cryptonews dataset (``;``-separated)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), delimiter=";")
        for line, row in enumerate(reader, start=2):
            try:
                published = dt.datetime.strptime(row["date"].strip(), DATASET_DATE_FORMAT)
            except (ValueError, AttributeError, KeyError):
                yield line, None, f"unreadable date {row.get('date')!r}"
                continue
            title = (row.get("title") or "").strip()
            summary = (row.get("text") or "").strip()
            if not title and not summary:
                yield line, None, "missing title and text"
                continue
            # 28 rows of the bundled dataset have a summary but no title (and no URL): the
            # summary stands in as the headline rather than losing the article.
            title = title or summary[:300]
            url = (row.get("url") or "").strip()
            publisher = (row.get("source") or "").strip() or None
            yield line, {
                "article_id": article_id(url, publisher or "", title, published.isoformat()),
                "url": url or f"urn:cryptonews:{line}",
                "title": title,
                "summary": summary or None,
                "publisher": publisher,
                "subject": (row.get("subject") or "").strip() or None,
                "published_at": published,
                "feed_url": None,
                "raw_sentiment": (row.get("sentiment") or "").strip()[:255] or None,
            }, None


def publish_dataset(settings: Settings, path: Path, progress: bool = True) -> dict:
    from loaders.csv_files import RowError
    from loaders.dead_letter import record_source_rejects

    meter = Progress(f"publish news {path.name}", enabled=progress)
    count, rejects = 0, []
    with Publisher(settings) as pub:
        for line, article, error in read_dataset(path):
            if error:
                rejects.append(RowError(str(path), line, error, ""))
                continue
            pub.publish(settings.kafka_topic_news, article["article_id"].encode(),
                        encode_news(article, "dataset"))
            count += 1
            meter.update(count)
    meter.done(count)
    record_source_rejects(settings, str(path), rejects)
    return {"published": count, "rejected": len(rejects)}


# ---- RSS / Atom ---------------------------------------------------------------------------
FEED_STATE_DDL = """
create table if not exists news_feed_state (
    feed_url        varchar(768)    not null,
    etag            varchar(255)    null,
    last_modified   varchar(255)    null,
    fetched_at      datetime(3)     not null,
    last_status     int             null,
    primary key (feed_url)
) engine = InnoDB default charset = utf8mb4
"""


def _entry_article(feed_url: str, publisher: str | None, entry) -> dict | None:
    url = entry.get("link") or entry.get("id")
    title = (entry.get("title") or "").strip()
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not title or stamp is None:
        return None
    published = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=calendar.timegm(stamp))
    guid = entry.get("id") or url
    return {
        "article_id": article_id(url if url else None, publisher or "", title,
                                 published.isoformat()) if url else
        hashlib.sha256(f"guid:{guid}".encode()).hexdigest(),
        "url": url or f"urn:guid:{guid}",
        "title": title[:1024],
        "summary": (entry.get("summary") or "").strip() or None,
        "publisher": publisher,
        "subject": (entry.get("tags") or [{}])[0].get("term") if entry.get("tags") else None,
        "published_at": published,
        "feed_url": feed_url,
        "raw_sentiment": None,
    }


class FeedCrawler:
    """Fetch each feed with a conditional GET (ETag / Last-Modified kept in staging), parse it
    with feedparser, and publish its items. One failing feed is reported and skipped."""

    def __init__(self, settings: Settings, timeout: float = 15.0,
                 session: requests.Session | None = None):
        self.settings = settings
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "cryptoquant-news-crawler/0.1")

    def _state(self, cur, url: str) -> tuple[str | None, str | None]:
        cur.execute("select etag, last_modified from news_feed_state where feed_url = %s", (url,))
        row = cur.fetchone()
        return (row[0], row[1]) if row else (None, None)

    def crawl(self, feeds: list[str] | None = None) -> dict:
        feeds = feeds or self.settings.news_feed_list
        report = {"feeds": {}, "published": 0, "failed": 0}
        with db.staging(self.settings) as conn, Publisher(self.settings) as pub:
            with conn.cursor() as cur:
                cur.execute(FEED_STATE_DDL)
            for url in feeds:
                try:
                    n, status = self._crawl_one(conn, pub, url)
                    report["feeds"][url] = {"status": status, "published": n}
                    report["published"] += n
                except Exception as exc:  # noqa: BLE001 - one bad feed must not stop the rest
                    logger.warning("feed %s failed: %s", url, exc)
                    report["feeds"][url] = {"status": "error", "error": str(exc)[:300]}
                    report["failed"] += 1
        return report

    def _crawl_one(self, conn, pub: Publisher, url: str) -> tuple[int, int]:
        with conn.cursor() as cur:
            etag, modified = self._state(cur, url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        response = self.session.get(url, headers=headers, timeout=self.timeout)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        published = 0
        if response.status_code == 304:
            pass
        elif response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        else:
            parsed = feedparser.parse(response.content)
            if parsed.bozo and not parsed.entries:
                raise RuntimeError(f"not a feed: {parsed.bozo_exception}")
            publisher = parsed.feed.get("title")
            for entry in parsed.entries:
                article = _entry_article(url, publisher, entry)
                if article is None:
                    logger.warning("feed %s: item without title or date skipped", url)
                    continue
                pub.publish(self.settings.kafka_topic_news, article["article_id"].encode(),
                            encode_news(article, "crawler"))
                published += 1
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
        with conn.cursor() as cur:
            cur.execute(
                "insert into news_feed_state (feed_url, etag, last_modified, fetched_at, "
                "last_status) values (%s, %s, %s, %s, %s) on duplicate key update "
                "etag = values(etag), last_modified = values(last_modified), "
                "fetched_at = values(fetched_at), last_status = values(last_status)",
                (url[:768], etag, modified, now, response.status_code),
            )
        conn.commit()
        return published, response.status_code
