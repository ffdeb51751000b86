"""Research mode end to end: `cryptoquant indicators --csv IN --out OUT` on both bundled
layouts, against the same arithmetic and against TA-Lib directly."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import talib
from click.testing import CliRunner

from cryptoquant.cli import main
from spark.indicators import compute_indicators, load_config_csv
from spark.indicators.research import OUTPUT_COLUMNS
from tests.support.sample import SAMPLE_KLINES, sample_file

SPECS = load_config_csv()


def run_cli(in_path, out_path) -> tuple[pd.DataFrame, str]:
    result = CliRunner().invoke(main, ["indicators", "--csv", str(in_path),
                                       "--out", str(out_path)])
    assert result.exit_code == 0, result.output
    text = out_path.read_text()
    assert text.splitlines()[0] == ",".join(OUTPUT_COLUMNS)
    return pd.read_csv(out_path, dtype={"open_time": str}), result.output


def assert_same(actual: pd.Series, expected, what: str) -> None:
    actual, expected = actual.to_numpy(float), np.asarray(expected, float)
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), what
    ok = ~np.isnan(expected)
    assert np.allclose(actual[ok], expected[ok], rtol=1e-12, atol=0), what


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "BNBUSDT"])
def test_ohlcv_layout(tmp_path, symbol):
    source = pd.read_csv(sample_file(symbol), parse_dates=["date"])
    out, log = run_cli(sample_file(symbol), tmp_path / "out.csv")
    assert len(out) == len(source)
    assert (out.open_time == source.date.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).all()
    for col in ("open", "high", "low", "close", "volume"):
        assert (out[col].to_numpy() == source[col].to_numpy()).all()
    candles = source.rename(columns={"date": "open_time"})
    expected = compute_indicators(candles, SPECS)
    for code in OUTPUT_COLUMNS[6:]:
        assert_same(out[code], expected[code], f"{symbol} {code}")
    assert_same(out["ema_200"], talib.EMA(source.close.to_numpy(), 200), "ema_200 vs TA-Lib")
    assert out["ema_200"].isna().sum() == 199 and out["obv"].notna().all()
    assert "5 gap(s)" in log


def test_binance_archive_layout_with_outage(tmp_path):
    path = SAMPLE_KLINES / "BTCUSDT-1h-2023-03.csv.gz"
    source = pd.read_csv(path)
    out, log = run_cli(path, tmp_path / "out.csv")
    assert len(out) == len(source) == 743
    times = pd.to_datetime(source.open_time, unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (out.open_time == times).all()
    c, h, low = (source[k].to_numpy(float) for k in ("close", "high", "low"))
    assert_same(out["rsi_14"], talib.RSI(c, 14), "rsi")
    assert_same(out["adx_14"], talib.ADX(h, low, c, 14), "adx")
    assert_same(out["macd_hist"], talib.MACD(c, 12, 26, 9)[2], "macd_hist")
    assert_same(out["obv"], talib.OBV(c, source.volume.to_numpy(float)), "obv")
    placeholder = out.open_time == "2023-03-24T12:00:00Z"
    assert out.loc[placeholder, "volume"].iat[0] == 0
    assert out.loc[placeholder, OUTPUT_COLUMNS[6:]].notna().all(axis=None)
    assert "1 gap(s)" in log and "2023-03-24 12:00 -> 2023-03-24 14:00" in log


def test_rows_keep_the_input_order(tmp_path):
    with gzip.open(sample_file("ETHUSDT"), "rt") as fh:
        lines = fh.read().splitlines()
    header, body = lines[0], lines[1:400]
    shuffled = [body[i] for i in np.random.default_rng(5).permutation(len(body))]
    src = tmp_path / "ETHUSDT-1h-shuffled.csv"
    src.write_text("\n".join([header, *shuffled]) + "\n")
    out, _ = run_cli(src, tmp_path / "out.csv")
    assert list(out.open_time.str[:19].str.replace("T", " ")) == [r[:19] for r in shuffled]
    ordered = out.sort_values("open_time").reset_index(drop=True)
    in_order, _ = run_cli_sorted(tmp_path, header, body)
    for code in OUTPUT_COLUMNS[6:]:
        assert_same(ordered[code], in_order[code], code)


def run_cli_sorted(tmp_path, header, body):
    src = tmp_path / "ETHUSDT-1h-sorted.csv"
    src.write_text("\n".join([header, *body]) + "\n")
    return run_cli(src, tmp_path / "sorted_out.csv")
