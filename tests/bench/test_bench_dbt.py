"""bench_dbt's data: the large slice has the asked size, and each held-back candle is the
series' next minute (what an incremental run lands)."""

import pandas as pd

from bench.bench_dbt import SYMBOLS, series
from cryptoquant.dbt import stage_args


def test_large_slice_is_big_enough_and_contiguous_at_the_end():
    frames = series("large", 3_000)
    assert set(frames) == set(SYMBOLS)
    assert sum(len(df) for df in frames.values()) >= 3_000
    for df in frames.values():
        tail = df.open_time.tail(3).diff().dropna()
        assert (tail <= pd.Timedelta(minutes=1)).all()
        assert df.open_time.is_monotonic_increasing


def test_marts_stage_excludes_the_base_stage():
    assert stage_args("dbt_marts")[:3] == ["build", "--select", "tag:marts"]
    assert stage_args("dbt_marts")[-2:] == ["--exclude", "tag:base"]
    assert "--exclude" not in stage_args("dbt_base")


def test_report_lists_the_metric_chain_and_the_live_round():
    from bench.bench_dbt import report

    def nodes(seconds):
        return [{"step": "dbt_marts", "node": f"model.cryptoquant.{name}", "seconds": sec,
                 "status": "success"} for name, sec in seconds.items()]

    build = {"dbt": 10.0, "spark": 1.0, "stages": {"dbt_marts": 10.0}, "rss_mb": 1.0,
             "server_rss_mb": 1.0}
    full = {**build, "nodes": nodes({"fact_metric_value": 9.5, "int_metric_inputs": 4.0})}
    inc = {**build, "dbt": 1.0, "nodes": nodes({"fact_metric_value": 0.25})}
    live = {"seconds": 3.0, "load": (5.0, 4.0, 3.0),
            "nodes": nodes({"fact_prediction": 0.5})}
    text = report([{"size": "sample", "candles": 100, "interval": "1h", "full": [full],
                    "incremental": [inc], "live": live, "load": (1.0, 1.0, 1.0)}])
    assert "last full build int_metric_inputs 4.0 s, fact_metric_value 9.5 s" in text
    assert "last incremental build fact_metric_value 0.2 s" in text
    assert "live-like round" in text and "3.0 s wall" in text
    assert "incremental 10% of full, goal met" in text
