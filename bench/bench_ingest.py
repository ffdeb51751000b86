"""Ingest: CSV replay → Kafka → staging.raw_klines, in candles per second, against MariaDB's
``LOAD DATA LOCAL INFILE`` of the same rows into the same table (the practical limit).

    python -m bench.bench_ingest [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import uuid
from pathlib import Path

from bench.report import median, peak_rss_mb, table, write_section
from cryptoquant import db
from cryptoquant.config import load_settings
from loaders.csv_files import read_kline_csv
from loaders.steps import drain_klines, replay_files
from tests.support.sample import SAMPLE_KLINES

FILES = sorted(SAMPLE_KLINES.glob("*-2021-04-04_2023-12-30.csv.gz"))


def isolated(base, label):
    s = base.replace(
        mysql_staging_database=f"cqb_{label}_staging", mysql_warehouse_database=f"cqb_{label}_wh",
        kafka_topic_klines=f"bench.{label}.klines", kafka_topic_dead_letter=f"bench.{label}.dlq")
    db.provision(s)
    return s


def drop(base, s):
    with db.connection(base, role="admin", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"drop database if exists `{s.mysql_staging_database}`")
        cur.execute(f"drop database if exists `{s.mysql_warehouse_database}`")


def run_pipeline_once(base) -> tuple[int, float]:
    s = isolated(base, uuid.uuid4().hex[:8])
    try:
        t0 = time.perf_counter()
        published = replay_files(s, FILES, progress=False)["published"]
        drain_klines(s, progress=False, idle_seconds=0.5)
        elapsed = time.perf_counter() - t0
        with db.staging(s) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from raw_klines")
            assert cur.fetchone()[0] == published
        return published, elapsed
    finally:
        drop(base, s)


def load_data_once(base, csv_path: Path, rows: int) -> float:
    s = isolated(base, uuid.uuid4().hex[:8])
    try:
        with db.staging(s) as conn, conn.cursor() as cur:
            t0 = time.perf_counter()
            cur.execute(
                f"load data local infile '{csv_path}' into table raw_klines fields terminated "
                "by ',' lines terminated by '\\n' (symbol, interval_code, open_time, close_time, "
                "open, high, low, close, volume, source, schema_version, ingested_at)")
            conn.commit()
            elapsed = time.perf_counter() - t0
            cur.execute("select count(*) from raw_klines")
            assert cur.fetchone()[0] == rows
        return elapsed
    finally:
        drop(base, s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base = load_settings()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "klines.csv"
        rows = 0
        with open(csv_path, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for f in FILES:
                df, _ = read_kline_csv(f)
                for r in df.itertuples(index=False):
                    writer.writerow([r.symbol, r.interval_code, r.open_time, r.close_time,
                                     r.open, r.high, r.low, r.close, r.volume, "replay", 1,
                                     "2024-01-01 00:00:00"])
                    rows += 1
        pipeline, baseline = [], []
        for _ in range(args.runs):
            n, secs = run_pipeline_once(base)
            pipeline.append(n / secs)
            baseline.append(rows / load_data_once(base, csv_path, rows))
    p, b = median(pipeline), median(baseline)
    body = table(
        ["what", "candles", "median candles/s", "runs"],
        [["replay → Kafka → consumer → raw_klines (cryptoquant)", f"{rows:,}", f"{p:,.0f}",
          ", ".join(f"{x:,.0f}" for x in pipeline)],
         ["LOAD DATA LOCAL INFILE into raw_klines (baseline)", f"{rows:,}", f"{b:,.0f}",
          ", ".join(f"{x:,.0f}" for x in baseline)]],
    )
    body += (f"\n\nRatio: cryptoquant ingests at **{p / b:.0%}** of `LOAD DATA` "
             f"(goal ≥ 25%, and ≥ 50,000 candles/s: {'met' if p >= 50000 else 'not met'}). "
             f"Peak RSS of the benchmark process: {peak_rss_mb():.0f} MiB. The pipeline figure "
             "includes parsing the CSV files, JSON encoding, the idempotent producer, the "
             "broker round trip, validation, the upsert and the offset commits.")
    print(write_section("Ingest: replay → Kafka → staging", body))


if __name__ == "__main__":
    main()
