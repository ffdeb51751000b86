"""The 1m bridge keeps every real hour's OHLCV exactly."""

import numpy as np

from bench.scale_data import bridge, hourly


def test_bridge_resamples_back_to_the_real_hours():
    h = hourly("BTCUSDT").head(2000).reset_index(drop=True)
    m = bridge(h)
    assert len(m) == 60 * len(h)
    grouped = m.groupby(m["row"] // 60)
    np.testing.assert_allclose(grouped["open"].first().to_numpy(), h["open"].to_numpy())
    np.testing.assert_allclose(grouped["close"].last().to_numpy(), h["close"].to_numpy())
    np.testing.assert_allclose(grouped["high"].max().to_numpy(), h["high"].to_numpy())
    np.testing.assert_allclose(grouped["low"].min().to_numpy(), h["low"].to_numpy())
    np.testing.assert_allclose(grouped["volume"].sum().to_numpy(), h["volume"].to_numpy())
    assert (m["low"] <= m[["open", "close"]].min(axis=1)).all()
    assert (m["high"] >= m[["open", "close"]].max(axis=1)).all()
    # minutes are contiguous inside each hour
    assert (m["open_time"].diff().dt.total_seconds().iloc[1:60] == 60).all()
