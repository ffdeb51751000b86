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
