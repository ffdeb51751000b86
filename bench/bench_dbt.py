"""dbt: a full build against an incremental build after one new candle per symbol, at the
sample size and at >= 1.5M candles. Goal: the incremental build takes <= 10% of the full one.

* Warehouse: scratch databases (``cqb_dbt_<id>_*``), klines landed straight into staging
  (no Kafka), the bundled news (7.5k articles, 2021-10..2022-07) landed and scored by the
  news_sentiment step before the first build. The last ``--runs`` candles
  of each symbol are held back: they are the "new candle" of each incremental run (real
  candles at the sample size, the 1m bridge's next minute at the large size).
* Sample: the three bundled real 1h series. Large: the newest N minutes of each of the three
  real series bridged to 1m by ``bench.scale_data`` (3 x N >= ``--large-candles``).
* Full build = the pipeline's three dbt stages (``cryptoquant.dbt.stage_args``: dbt_base,
  dbt_marts, dbt_patterns; ``dbt build``, tests included) with ``--full-refresh``. The first
  one runs on the fresh warehouse with the Spark steps in between, as the pipeline does
  (spark_indicators with --full-refresh, spark_fpgrowth); later ones rebuild dbt only.
* Incremental build = land one new candle per symbol, then dbt_base, spark_indicators
  (incremental, in its own process as the pipeline runs it: session start-up included),
  dbt_marts, dbt_patterns, without --full-refresh. spark_fpgrowth is not re-run (its rules
  from the first build stay). Reported dbt-only and dbt + Spark.
* dbt runs through ``cryptoquant.dbt.run_dbt``, as in the pipeline: every command of this
  process goes to one long-lived dbt process (``cryptoquant/_dbt_worker.py``), so dbt's
  import (3-4 s here) is paid once, in the first full build's dbt_base, not per stage.
* Per model: dbt's run_results.json of the last full and the last incremental build (dbt
  writes to a private target path, not the shared target/), and the seconds of the metric
  chain (fact_indicator, int_metric_inputs, fact_metric_value, int_prediction_components,
  fact_prediction: incremental per series with a look-back) in each.
* Live-like round: after the incremental builds, one more candle per symbol, then what a
  round of ``cryptoquant pipeline live`` runs: ``dbt run --select fact_kline``, the incremental
  Spark step, and the timed ``dbt run`` of ``cryptoquant.live.PREDICTION_MODELS`` (the models
  between the landing tables and fact_prediction).
* Memory: peak RSS of this process tree during each build (this process + the dbt or Spark
  subprocess, JVM included), and of the shared MariaDB server (other users' load included).

Default size: sample only. ``make bench`` runs every benchmark and must finish in reasonable
time; the large size takes about an hour on these 2-core machines (2026-12-02: a full dbt
build of 2,687 s alone). Run it with ``--sizes large`` (or ``--sizes sample,large``).

    python -m bench.bench_dbt [--sizes sample|large|sample,large] [--runs 2]
                              [--large-candles 1500000]
                              [--json FILE] [--from-json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pandas as pd

from bench.report import PeakRss, mariadb_pid, median, table, write_section
from cryptoquant import db
from cryptoquant.config import PROJECT_ROOT, Settings, load_settings
from cryptoquant.dbt import STAGES, DbtFailed, run_dbt, stage_args

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
INTERVAL = {"sample": ("1h", 3600), "large": ("1m", 60)}
GOAL = 0.10
# The per-candle chain made incremental with a per-series look-back (reported separately).
CHAIN = ("fact_indicator", "int_metric_inputs", "fact_metric_value", "int_prediction_components",
         "fact_prediction")
# The pattern models after it made incremental per prediction or trade (reported separately).
PER_PREDICTION = ("int_prediction_states_discretised", "fp_growth_transactions",
                  "fp_growth_prediction_matches")
SPARK_SNIPPET = (
    "import json, sys\n"
    "from cryptoquant.config import load_settings\n"
    "s = load_settings()\n"
    "if sys.argv[1] == 'indicators':\n"
    "    from spark.indicators.job import run_indicators\n"
    "    out = run_indicators(s, full_refresh=sys.argv[2] == 'full')\n"
    "else:\n"
    "    from spark.fpgrowth.job import run_step\n"
    "    out = run_step(s)\n"
    "print('SUMMARY ' + json.dumps(out, default=str))\n"
)


def series(size: str, large_candles: int) -> dict[str, pd.DataFrame]:
    """Per symbol: open_time, open, high, low, close, volume in time order."""
    if size == "sample":
        from tests.support.sample import read_sample

        return {s: read_sample(s)[["open_time", "open", "high", "low", "close", "volume"]]
                for s in SYMBOLS}
    from bench.scale_data import bridge, hourly

    per_symbol = math.ceil(large_candles / len(SYMBOLS))
    return {s: bridge(hourly(s)).drop(columns="row").tail(per_symbol).reset_index(drop=True)
            for s in SYMBOLS}


def land(settings: Settings, frames: dict[str, pd.DataFrame], interval: str, seconds: int,
         chunk: int = 20_000) -> int:
    """Insert candles into staging.raw_klines as a replay would; returns rows landed."""
    sql = ("insert into raw_klines (symbol, interval_code, open_time, close_time, open, high, "
           "low, close, volume, source, schema_version, ingested_at) values "
           "(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'replay', 1, utc_timestamp())")
    rows = [(symbol, interval, t.to_pydatetime(),
             (t + pd.Timedelta(seconds=seconds) - pd.Timedelta(milliseconds=1)).to_pydatetime(),
             float(o), float(h), float(lo), float(c), float(v))
            for symbol, df in frames.items()
            for t, o, h, lo, c, v in zip(df.open_time, df.open, df.high, df.low, df.close,
                                         df.volume, strict=True)]
    with db.staging(settings) as conn, conn.cursor() as cur:
        for i in range(0, len(rows), chunk):
            cur.executemany(sql, rows[i:i + chunk])
            conn.commit()
    return len(rows)


def land_news_and_scores(settings: Settings) -> int:
    """The bundled news dataset into staging, scored by the news_sentiment step (untimed)."""
    from loaders import news_sentiment
    from tests.news.news_fixture import land_news

    n = land_news(settings)
    news_sentiment.run_step(settings)
    return n


class Builder:
    """Runs the dbt stages and Spark steps of one scratch warehouse, recording times."""

    def __init__(self, settings: Settings, target_path: Path):
        self.settings = settings
        self.target_path = target_path
        self.mariadb = mariadb_pid()

    def dbt_stage(self, step: str, full_refresh: bool) -> tuple[float, list[dict]]:
        args = [*stage_args(step), "--target-path", str(self.target_path)]
        if full_refresh:
            args.append("--full-refresh")
        t0 = time.perf_counter()
        try:
            run_dbt(self.settings, args, capture=True)
        except DbtFailed as exc:  # a failing test or model is recorded, not hidden
            print(f"{step}: {str(exc)[-1500:]}", flush=True)
        seconds = time.perf_counter() - t0
        results = json.loads((self.target_path / "run_results.json").read_text())["results"]
        return seconds, [{"step": step, "node": r["unique_id"], "seconds": r["execution_time"],
                          "status": r["status"]} for r in results]

    def spark(self, job: str, mode: str = "") -> tuple[float, dict]:
        env = {**os.environ, **self.settings.as_env()}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", SPARK_SNIPPET, job, mode], cwd=PROJECT_ROOT,
                              env=env, text=True, capture_output=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"spark {job} failed: {proc.stderr[-3000:]}")
        line = next(x for x in proc.stdout.splitlines() if x.startswith("SUMMARY "))
        return seconds, json.loads(line[len("SUMMARY "):])

    def build(self, full: bool, with_spark: bool) -> dict:
        """One build of the three dbt stages (Spark steps in between when ``with_spark``)."""
        out = {"dbt": 0.0, "spark": 0.0, "spark_job": 0.0, "nodes": [], "stages": {}}
        tree, server = PeakRss(), PeakRss(self.mariadb) if self.mariadb else None
        with tree, (server or _Null()):
            for step in STAGES:
                seconds, nodes = self.dbt_stage(step, full_refresh=full)
                out["dbt"] += seconds
                out["stages"][step] = seconds
                out["nodes"] += nodes
                if with_spark and step == "dbt_base":
                    seconds, summary = self.spark("indicators", "full" if full else "")
                    out["spark"] += seconds
                    out["spark_job"] += summary.get("seconds", 0)
                    out["spark_summary"] = {k: summary.get(k) for k in
                                            ("candles_read", "rows_written", "full",
                                             "incremental")}
                if with_spark and full and step == "dbt_marts":
                    out["fpgrowth"] = self.spark("fpgrowth")[0]
        out["rss_mb"] = tree.peak_mb
        out["server_rss_mb"] = server.peak_mb if server else None
        return out

    def live_round(self) -> dict:
        """A round of the live loop after new candles landed: fact_kline, the incremental
        Spark step (untimed here), then the timed dbt run of the prediction models."""
        from cryptoquant.live import KLINE_MODELS, PREDICTION_EXCLUDE, PREDICTION_MODELS

        tp = ["--target-path", str(self.target_path)]
        run_dbt(self.settings, ["run", "--select", KLINE_MODELS, *tp], capture=True)
        self.spark("indicators", "")
        t0 = time.perf_counter()
        run_dbt(self.settings, ["run", "--select", *PREDICTION_MODELS, "--exclude",
                                PREDICTION_EXCLUDE, *tp], capture=True)
        seconds = time.perf_counter() - t0
        results = json.loads((self.target_path / "run_results.json").read_text())["results"]
        return {"seconds": seconds, "load": os.getloadavg(),
                "nodes": [{"step": "live", "node": r["unique_id"], "seconds": r["execution_time"],
                           "status": r["status"]} for r in results]}


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def top_nodes(nodes: list[dict], n: int = 8) -> list[tuple[str, str, float]]:
    return sorted(((d["step"], d["node"], d["seconds"]) for d in nodes),
                  key=lambda x: -x[2])[:n]


def node_kinds(nodes: list[dict]) -> dict[str, float]:
    kinds: dict[str, float] = defaultdict(float)
    for d in nodes:
        kinds[d["node"].split(".")[0]] += d["seconds"]
    return dict(kinds)


def measure(base: Settings, size: str, runs: int, full_runs: int, large_candles: int,
            keep: bool, progress=lambda partial: None) -> dict:
    uid = uuid.uuid4().hex[:8]
    s = base.replace(mysql_staging_database=f"cqb_dbt_{uid}_staging",
                     mysql_warehouse_database=f"cqb_dbt_{uid}_warehouse")
    db.provision(s)
    interval, seconds = INTERVAL[size]
    frames = series(size, large_candles)
    held = {k: df.tail(runs + 1).reset_index(drop=True) for k, df in frames.items()}
    first = {k: df.iloc[:-(runs + 1)] for k, df in frames.items()}
    del frames
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
            b = Builder(s, Path(tmp))
            t0 = time.perf_counter()
            candles = land(s, first, interval, seconds)
            land_s = time.perf_counter() - t0
            articles = land_news_and_scores(s)
            print(f"[{size}] landed {candles:,} candles in {land_s:.0f} s, {articles:,} "
                  "articles (scored)", flush=True)
            fulls, incs = [], []
            partial = {"size": size, "candles": candles, "interval": interval, "full": fulls,
                       "incremental": incs}
            fulls.append(b.build(full=True, with_spark=True))
            progress(partial)
            print(f"[{size}] full #1 (fresh, with Spark): {_brief(fulls[-1])}", flush=True)
            for i in range(1, full_runs):
                fulls.append(b.build(full=True, with_spark=False))
                progress(partial)
                print(f"[{size}] full #{i + 1}: {_brief(fulls[-1])}", flush=True)
            for i in range(runs):
                land(s, {k: df.iloc[[i]] for k, df in held.items()}, interval, seconds)
                incs.append(b.build(full=False, with_spark=True))
                progress(partial)
                print(f"[{size}] incremental #{i + 1}: {_brief(incs[-1])}", flush=True)
            land(s, {k: df.iloc[[runs]] for k, df in held.items()}, interval, seconds)
            live = b.live_round()
            print(f"[{size}] live-like round: dbt {live['seconds']:.1f} s", flush=True)
        return {"size": size, "candles": candles, "interval": interval, "full": fulls,
                "incremental": incs, "live": live, "load": os.getloadavg()}
    finally:
        if not keep:
            with db.connection(base, role="admin", autocommit=True) as conn, conn.cursor() as cur:
                for name in (s.mysql_staging_database, s.mysql_warehouse_database):
                    cur.execute(f"drop database if exists `{name}`")


def _brief(r: dict) -> str:
    return (f"dbt {r['dbt']:.1f} s {({k: round(v, 1) for k, v in r['stages'].items()})}, "
            f"spark {r['spark']:.1f} s (job {r['spark_job']:.1f} s), "
            f"rss {r['rss_mb']:.0f} MiB, server {r['server_rss_mb'] or 0:.0f} MiB")


def chain_seconds(nodes: list[dict], names: tuple[str, ...] = CHAIN) -> str:
    by_name = {d["node"].split(".")[-1]: d["seconds"] for d in nodes
               if d["node"].startswith("model.")}
    return ", ".join(f"{name} {by_name[name]:.1f} s" for name in names if name in by_name)


def short(node: str) -> str:
    kind, _project, *rest = node.split(".")
    name = rest[0] if kind != "test" else ".".join(rest[:1])
    return f"{name} ({kind})" if kind != "model" else name


def report(results: list[dict]) -> str:
    rows, detail = [], []
    verdicts = []
    for r in results:
        full_dbt = median([x["dbt"] for x in r["full"]])
        inc_dbt = median([x["dbt"] for x in r["incremental"]])
        inc_spark = median([x["spark"] for x in r["incremental"]])
        inc_both = median([x["dbt"] + x["spark"] for x in r["incremental"]])
        spark_full = r["full"][0]["spark"]
        ratio = inc_dbt / full_dbt
        label = "sample (3 real 1h series)" if r["size"] == "sample" \
            else "large (3 real series bridged to 1m)"
        rows.append([
            label, f"{r['candles']:,}",
            f"{full_dbt:.1f} ({len(r['full'])})",
            f"{inc_dbt:.1f} ({len(r['incremental'])})",
            f"**{ratio:.0%}**",
            f"{inc_spark:.1f}", f"{spark_full:.1f}",
            f"{inc_both / (full_dbt + spark_full):.0%}",
            f"{max(x['rss_mb'] for x in r['full'] + r['incremental']):,.0f}",
            f"{max((x['server_rss_mb'] or 0) for x in r['full'] + r['incremental']):,.0f}",
        ])
        bad = sorted({f"{short(d['node'])}: {d['status']}" for x in r["full"] + r["incremental"]
                      for d in x["nodes"] if d.get("status", "pass") not in ("success", "pass")})
        if bad:
            detail.append(f"- {label}: nodes that did not succeed: {', '.join(bad)}.")
        verdicts.append(f"{label}: incremental {ratio:.0%} of full, goal "
                        f"{'met' if ratio <= GOAL else 'NOT met'}")
        for kind, runs in (("full", r["full"]), ("incremental", r["incremental"])):
            last = runs[-1]
            kinds = node_kinds(last["nodes"])
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in last["stages"].items())
            top = "; ".join(f"{short(n)} {sec:.1f} s" for _, n, sec in top_nodes(last["nodes"]))
            detail.append(
                f"- {label}, last {kind} build: stages {stages}; models "
                f"{kinds.get('model', 0):.1f} s, tests {kinds.get('test', 0):.1f} s, seeds "
                f"{kinds.get('seed', 0):.1f} s (sums of node times; dbt runs 2 threads, so they "
                f"can exceed the stage times). Top: {top}.")
        detail.append(f"- {label}, the metric chain (incremental per series since 2026-12-02): "
                      f"last full build {chain_seconds(r['full'][-1]['nodes'])}; last "
                      f"incremental build {chain_seconds(r['incremental'][-1]['nodes'])}.")
        detail.append(f"- {label}, the pattern models incremental per prediction or trade (since "
                      f"2026-12-02; rules unchanged, spark_fpgrowth is not re-run): last full "
                      f"build {chain_seconds(r['full'][-1]['nodes'], PER_PREDICTION)}; last "
                      f"incremental build "
                      f"{chain_seconds(r['incremental'][-1]['nodes'], PER_PREDICTION)}.")
        if r.get("live"):
            live = r["live"]
            top = "; ".join(f"{short(n)} {sec:.1f} s" for _, n, sec in top_nodes(live["nodes"]))
            detail.append(
                f"- {label}, live-like round (one more candle per symbol; `dbt run` of "
                f"cryptoquant.live.PREDICTION_MODELS after fact_kline and the incremental Spark "
                f"step): {live['seconds']:.1f} s wall (the long-lived dbt process), load "
                f"{live['load'][0]:.1f}. Nodes: {top}.")
        detail.append(f"- {label}: load average {r['load'][0]:.1f} / {r['load'][1]:.1f} / "
                      f"{r['load'][2]:.1f} (1/5/15 min) when it ended.")
    return (
        "`python -m bench.bench_dbt`: the pipeline's three dbt stages (dbt_base, dbt_marts, "
        "dbt_patterns; `dbt build`, tests included) with `--full-refresh`, against the same "
        "stages without it after landing one new candle per symbol (and the incremental "
        "`spark_indicators` step between dbt_base and dbt_marts, in its own process as in the "
        "pipeline, session start-up included; dbt through the pipeline's long-lived dbt "
        "process, so its import is paid once, in the first full build). Scratch databases, "
        "klines landed straight "
        "into staging, the bundled news landed and scored (it overlaps the sample's candles; "
        "the large slice is 2023, after the news ends). Full builds: the first on "
        "the fresh warehouse with the Spark steps in between (as the pipeline does), later "
        "ones dbt only; dbt times in seconds, median (runs). Goal: incremental dbt ≤ 10% of "
        "the full dbt build.\n\n"
        + table(["data", "candles", "full dbt s (runs)", "incremental dbt s (runs)",
                 "incr / full", "incr Spark s", "full Spark s (1)",
                 "incr / full, dbt + Spark", "peak RSS MiB (bench + dbt/Spark)",
                 "peak MariaDB RSS MiB"], rows)
        + "\n\n" + "; ".join(verdicts) + ".\n\n"
        + "Where the time goes (dbt's run_results.json; seconds per node):\n\n"
        + "\n".join(detail)
        + "\n\nPeak RSS: this benchmark's process tree (its own Python, holding the "
        "candles, plus the dbt or Spark subprocess, JVM included), sampled every "
        "0.2 s over each build; MariaDB: the shared server's resident size over the same "
        "time (it also serves the other users of the machine, and keeps its buffer pool once "
        "grown). Regenerate: `python -m bench.bench_dbt`."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="sample",
                    help="comma-separated: sample, large (the large size takes about an hour "
                         "here, so `make bench` runs the sample only)")
    ap.add_argument("--runs", type=int, default=2, help="incremental builds per size")
    ap.add_argument("--full-runs", type=int, default=2, help="full builds at the sample size")
    ap.add_argument("--large-full-runs", type=int, default=1,
                    help="full builds at the large size (each takes minutes)")
    ap.add_argument("--large-candles", type=int, default=1_500_000)
    ap.add_argument("--keep", action="store_true", help="keep the scratch databases")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    ap.add_argument("--note", default="", help="with --from-json: a paragraph to append")
    ap.add_argument("--from-json", type=Path,
                    help="write the section from the figures of an earlier --json run")
    args = ap.parse_args()
    if args.from_json:
        body = report(json.loads(args.from_json.read_text()))
        if args.note:
            body += "\n\n" + args.note
        print(body)
        write_section("dbt: full vs incremental build", body)
        return
    base = load_settings()
    results = []
    for size in args.sizes.split(","):
        full_runs = args.full_runs if size == "sample" else args.large_full_runs
        def progress(partial, done=tuple(results)):
            if args.json:  # after every build: a long run leaves its figures so far
                args.json.write_text(json.dumps([*done, partial], default=str, indent=1))

        results.append(measure(base, size, args.runs, full_runs, args.large_candles, args.keep,
                               progress))
        progress(results[-1], tuple(results[:-1]))
    body = report(results)
    print(body)
    if not args.no_write:
        write_section("dbt: full vs incremental build", body)


if __name__ == "__main__":
    main()
