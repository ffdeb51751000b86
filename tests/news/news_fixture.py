"""Land the bundled news dataset straight into staging.raw_news (as the ingestion would,
without Kafka), for tests of the sentiment step and the news marts.

The dataset's dates carry no zone; like the ingestion, they are taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd

from cryptoquant import db
from cryptoquant.config import PROJECT_ROOT, Settings

NEWS_CSV = next((PROJECT_ROOT / "data" / "sample" / "news").glob("cryptonews-*.csv.gz"))


def read_news(path: Path = NEWS_CSV) -> pd.DataFrame:
    df = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    df["published_at"] = pd.to_datetime(df["date"], format="%d-%m-%Y %H:%M")
    key = df["url"].where(df["url"].str.startswith("http"), df["title"] + "|" + df["date"])
    df["article_id"] = [hashlib.sha256(k.strip().encode()).hexdigest() for k in key]
    return df.drop_duplicates("article_id").reset_index(drop=True)


def land_news(settings: Settings, df: pd.DataFrame | None = None) -> int:
    """Insert articles into raw_news (idempotent); returns the number of rows given."""
    df = read_news() if df is None else df
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        (r.article_id, r.url or "n/a", r.title, r.text or None, r.source or None,
         r.subject or None, r.published_at.to_pydatetime(), "dataset", r.sentiment or None, 1, now)
        for r in df.itertuples(index=False)
    ]
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into raw_news (article_id, url, title, summary, publisher, subject, "
            "published_at, source, raw_sentiment, schema_version, ingested_at) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on duplicate key update "
            "title = values(title)",
            rows,
        )
        conn.commit()
    return len(rows)
