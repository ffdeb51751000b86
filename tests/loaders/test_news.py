"""News: the bundled dataset lands whole; the RSS crawler does conditional GETs against a
loopback server with the real feed samples, de-duplicates, and survives a broken feed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cryptoquant.config import PROJECT_ROOT
from loaders.news import FeedCrawler, article_id, canonical_url
from loaders.steps import drain_news, ingest_sample_news
from tests.loaders.conftest import count, rows

RSS = PROJECT_ROOT / "data" / "sample" / "news" / "rss"


def test_canonical_url_drops_tracking_and_case():
    a = "HTTPS://Cointelegraph.com/news/some-story/?utm_source=rss&utm_medium=rss&id=7#top"
    assert canonical_url(a) == "https://cointelegraph.com/news/some-story?id=7"
    assert article_id(a) == article_id("https://cointelegraph.com/news/some-story?id=7")
    assert article_id(None, "CoinTelegraph", "A title", "2022-01-01") != article_id(
        None, "CoinTelegraph", "Another title", "2022-01-01")


def test_bundled_dataset_lands_every_article_once(fresh):
    first = ingest_sample_news(fresh)
    assert first["published"] == 7524 and first["landed"] == 7524
    assert count(fresh, "select count(*) from raw_news") == 7524
    assert count(fresh, "select count(*) from dead_letter") == 0
    (lo, hi), = rows(fresh, "select min(published_at), max(published_at) from raw_news")
    assert (lo.isoformat(), hi.isoformat()) == ("2021-10-12T20:00:00", "2022-07-05T04:24:00")
    ingest_sample_news(fresh)
    assert count(fresh, "select count(*) from raw_news") == 7524


class FeedServer:
    """Serves the recorded feeds with ETag/Last-Modified, and one broken feed."""

    def __init__(self):
        self.hits: list[tuple[str, str | None]] = []
        feeds = {f"/{p.stem}.xml": p.read_bytes() for p in RSS.glob("*.xml")}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                server.hits.append((self.path, self.headers.get("If-None-Match")))
                if self.path == "/broken.xml":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = feeds.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                etag = f'"{hash(body) & 0xffff:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Sat, 26 Sep 2026 10:00:00 GMT")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def feeds():
    server = FeedServer()
    yield server
    server.httpd.shutdown()


def test_crawler_conditional_get_dedupe_and_a_broken_feed(fresh, feeds):
    urls = [feeds.url("/coindesk-rss-2026-09-25.xml"), feeds.url("/broken.xml"),
            feeds.url("/cointelegraph-rss-2026-02-15.xml")]
    report = FeedCrawler(fresh).crawl(urls)
    assert report["published"] == 13 and report["failed"] == 1
    assert report["feeds"][urls[1]]["status"] == "error"
    drain_news(fresh, progress=False)
    assert count(fresh, "select count(*) from raw_news") == 13
    titles = [t for (t,) in rows(fresh, "select title from raw_news where publisher like "
                                        "'%%CoinDesk%%'")]
    assert len(titles) == 3
    # utm_ parameters are not part of the identity of a Cointelegraph link
    assert count(fresh, "select count(*) from raw_news where url like '%%utm_%%'") == 10
    assert count(fresh, "select count(distinct article_id) from raw_news") == 13

    again = FeedCrawler(fresh).crawl(urls)
    assert again["published"] == 0
    assert {again["feeds"][u]["status"] for u in (urls[0], urls[2])} == {304}
    assert all(etag for path, etag in feeds.hits[-3:] if path != "/broken.xml")
