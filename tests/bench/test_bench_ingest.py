"""bench_ingest's report states the goal honestly from the figures it is given."""

from __future__ import annotations

import os

from bench.bench_ingest import report as _report


def run(landed_s: float, **extra) -> dict:
    return {"published": 100_000, "produce_s": 0.5, "consume_s": landed_s - 0.5,
            "landed_s": landed_s, "step_s": landed_s + 4, "batches": 20, "load": 3.5,
            "cpu_s": 2.5, "db_s": 0.75,
            "peak_rss_mib": 250.0, **extra}


def report(rows, runs, baseline, baseline_cpu=None):
    return _report(rows, runs, baseline, baseline_cpu or [None] * len(baseline))


def test_goal_met_only_when_rate_and_ratio_both_are():
    fast = report(100_000, [run(1.5), run(1.6), run(1.7)], [150_000.0] * 3)
    assert "**met**" in fast and "What remains" not in fast
    slow_ratio = report(100_000, [run(1.5)] * 3, [400_000.0] * 3)  # 66,667/s but 17%
    assert "**not met**" in slow_ratio and "ratio < 25%" in slow_ratio
    slow_rate = report(100_000, [run(4.0)] * 3, [60_000.0] * 3)  # 25,000/s, 42%
    assert "**not met**" in slow_rate and "rate < 50,000" in slow_rate
    assert "What remains" in slow_rate and "3.50 s" in slow_rate


def test_memory_and_load_are_reported():
    text = report(100_000, [run(2.0, peak_rss_mib=240.0, load=2.0),
                            run(2.0, peak_rss_mib=260.0, load=4.5)], [100_000.0] * 2)
    assert "median 250 MiB (max 260 MiB)" in text and "2.0–4.5" in text
    text = report(100_000, [run(2.0, cpu_s=2.0, db_s=0.5), run(2.0, cpu_s=3.0, db_s=0.9),
                            run(2.0, cpu_s=4.0, db_s=0.7)], [100_000.0] * 3)
    assert "median 3.00 s per run" in text and "median 0.70 s per run" in text


def test_the_cpu_budget_gives_the_ceiling_of_the_cores():
    cores = os.cpu_count()
    # 100k candles: 3 s + 2 s + 1 s of CPU = 60 µs per candle
    runs = [run(4.0, cpu_s=3.0, broker_cpu_s=2.0, mariadb_cpu_s=1.0)] * 3
    text = report(100_000, runs, [60_000.0] * 3, [0.8] * 3)
    assert "the ingest process 30 µs, the Kafka broker 20 µs, MariaDB 10 µs" in text
    assert "**60 µs**" in text and "LOAD DATA: 8 µs per candle" in text
    assert f"at most **{cores * 1e6 / 60:,.0f} candles/s**" in text
    assert ("out of reach" in text) == (cores * 1e6 / 60 < 50_000)
    # a server that is not the local stack: no budget, said so
    unmeasured = report(100_000, [run(4.0, broker_cpu_s=None, mariadb_cpu_s=1.0)] * 3,
                        [60_000.0] * 3)
    assert "CPU per candle: not measured" in unmeasured
