"""The dbt backtest (fact_prediction_result and its intermediate models in MariaDB) against a
vectorised numpy evaluation of the same trades with the same rules, on the whole bundled sample
(3 real 1h series, 2021-04..2023-12) with a LONG/SHORT/NO_TRADE action on every candle.

Both sides start from the warehouse tables; the numpy side's read of candles and ATR is timed
separately from its evaluation. The two results are compared trade by trade before timing.

    python -m bench.bench_backtest [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import numpy as np

from bench.report import PeakRss, mariadb_pid, median, table, timed_runs, write_section
from cryptoquant import db
from cryptoquant.config import load_settings
from cryptoquant.dbt import run_dbt

LOOKAHEAD, TP_ATR, SL_ATR, FEE, SLIPPAGE = 24, 2.0, 1.0, 0.001, 0.0002
TRADE_MODELS = ["int_backtest_candles_numbered", "int_backtest_trades_entered",
                "int_backtest_trade_candles", "fact_prediction_result"]
OUTCOMES = np.array(["PENDING", "LOSS", "WIN", "LOSS", "WIN", "TIMEOUT", "NO_ATR"])


def evaluate_vectorised(o, h, l, c, signal_index, sign, atr, lookahead=LOOKAHEAD,  # noqa: E741
                        tp_atr=TP_ATR, sl_atr=SL_ATR, fee=FEE, slippage=SLIPPAGE) -> dict:
    """Outcomes of trades signalled at ``signal_index`` (int array) of one series with OHLC
    arrays o, h, l, c; ``sign`` +1 LONG / -1 SHORT; ``atr`` at the signal (nan = none).
    Returns arrays: code (index into OUTCOMES), bars_held, exit_price, pnl_pct, pnl_r."""
    n, k = len(o), len(signal_index)
    entry_index = signal_index + 1
    has_entry = entry_index < n
    e = np.where(has_entry, o[np.minimum(entry_index, n - 1)], np.nan)
    tp, sl = e + sign * tp_atr * atr, e - sign * sl_atr * atr
    idx = entry_index[:, None] + np.arange(lookahead)[None, :]
    inside = idx < n
    idx = np.minimum(idx, n - 1)
    s = sign[:, None]
    wo, wh, wl = o[idx], h[idx], l[idx]
    adverse, favourable = np.where(s > 0, wl, wh), np.where(s > 0, wh, wl)
    rules = np.stack([
        s * (wo - sl[:, None]) <= 0,            # 1 opens at/beyond SL
        s * (wo - tp[:, None]) >= 0,            # 2 opens at/beyond TP
        s * (adverse - sl[:, None]) <= 0,       # 3 range reaches SL
        s * (favourable - tp[:, None]) >= 0,    # 4 range reaches TP
    ]) & inside[None]
    rule = np.where(rules.any(0), rules.argmax(0) + 1, 0)          # first rule per bar
    hit = rule > 0
    first_bar = np.where(hit.any(1), hit.argmax(1), -1)
    full = inside.all(1)
    valid_atr = np.isfinite(atr) & (atr > 0)
    code = np.zeros(k, dtype=int)                                    # PENDING
    exit_bar = np.full(k, -1)
    code = np.where(first_bar >= 0, rule[np.arange(k), np.maximum(first_bar, 0)], code)
    exit_bar = np.where(first_bar >= 0, first_bar, exit_bar)
    timeout = (first_bar < 0) & full
    code = np.where(timeout, 5, code)
    exit_bar = np.where(timeout, lookahead - 1, exit_bar)
    code = np.where(valid_atr & has_entry, code, np.where(valid_atr, 0, 6))
    exit_bar = np.where(np.isin(code, (0, 6)), -1, exit_bar)
    rows = np.arange(k)
    bar = np.maximum(exit_bar, 0)
    x = np.select([np.isin(code, (1, 2)), code == 3, code == 4, code == 5],
                  [wo[rows, bar], sl, tp, c[idx[rows, bar]]], np.nan)
    pnl_pct = 100 * (sign * (x - e) / e - (fee + slippage) * (e + x) / e)
    pnl_r = pnl_pct / (100 * np.abs(e - sl) / e)
    return {"code": code, "bars_held": np.where(exit_bar >= 0, exit_bar + 1, 0),
            "exit_price": x, "pnl_pct": pnl_pct, "pnl_r": pnl_r}


PREDICTIONS_SQL = """
create table fact_prediction as
select md5(concat(k.symbol_id, '|', k.interval_id, '|', k.open_time)) as prediction_id,
    k.symbol_id, k.interval_id, k.open_time, k.open_time as predicting_at,
    cast(case crc32(concat(k.symbol_id, k.open_time)) % 3
        when 0 then 'LONG' when 1 then 'SHORT' else 'NO_TRADE' end as char(8)) as action
from fact_kline k
"""


def build_inputs(settings) -> None:
    from tests.dbt.indicator_fixture import land_indicator_values
    from tests.support.sample import land_klines

    land_klines(settings, start=None, end=None)
    land_indicator_values(settings)
    run_dbt(settings, ["build", "--select", "symbols", "intervals", "indicator_types",
                       "stg_binance__klines", "stg_spark__indicator_values", "dim_symbol",
                       "dim_interval", "dim_indicator_type", "fact_kline", "fact_indicator",
                       "--exclude", "test_type:generic", "test_type:singular"], capture=True)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(PREDICTIONS_SQL)
        cur.execute("alter table fact_prediction add primary key (prediction_id)")
        cur.execute("create index ix_fact_prediction_candle on fact_prediction "
                    "(symbol_id, interval_id, open_time)")
        conn.commit()


def has_inputs(settings) -> bool:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from information_schema.tables where table_schema = %s "
                    "and table_name = 'fact_prediction'", (settings.mysql_warehouse_database,))
        return cur.fetchone()[0] == 1


def read_inputs(settings) -> list[tuple]:
    """Per series: (OHLC arrays, signal indices, signs, ATR, prediction ids)."""
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("select k.symbol_id, k.interval_id, k.open, k.high, k.low, k.close, "
                    "p.prediction_id, p.action, a.indicator_value from fact_kline k "
                    "left join fact_prediction p on p.symbol_id = k.symbol_id "
                    "and p.interval_id = k.interval_id and p.open_time = k.open_time "
                    "and p.action in ('LONG', 'SHORT') "
                    "left join (select i.* from fact_indicator i join dim_indicator_type t "
                    "on t.indicator_type_id = i.indicator_type_id "
                    "where t.indicator_code = 'atr_14') a on a.symbol_id = k.symbol_id "
                    "and a.interval_id = k.interval_id and a.open_time = k.open_time "
                    "order by k.symbol_id, k.interval_id, k.open_time")
        rows = cur.fetchall()
    series, out = {}, []
    for r in rows:
        series.setdefault((r[0], r[1]), []).append(r[2:])
    for part in series.values():
        ohlc = np.array([[float(v) for v in r[:4]] for r in part])
        signal = np.array([i for i, r in enumerate(part) if r[4] is not None])
        sign = np.array([1 if part[i][5] == "LONG" else -1 for i in signal])
        atr = np.array([np.nan if part[i][6] is None else part[i][6] for i in signal])
        out.append((ohlc, signal, sign, atr, [part[i][4] for i in signal]))
    return out


def evaluate_all(inputs: list[tuple]) -> dict[str, tuple]:
    result = {}
    for ohlc, signal, sign, atr, ids in inputs:
        r = evaluate_vectorised(*ohlc.T, signal, sign, atr)
        for j, pid in enumerate(ids):
            result[pid] = (OUTCOMES[r["code"][j]], r["exit_price"][j], r["pnl_r"][j])
    return result


def compare(settings, numpy_result: dict[str, tuple]) -> int:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("select prediction_id, outcome, exit_price, pnl_r from fact_prediction_result")
        rows = cur.fetchall()
    bad = 0
    for pid, outcome, exit_price, pnl_r in rows:
        o, x, r = numpy_result[pid]
        same_x = (exit_price is None and np.isnan(x)) or (
            exit_price is not None and np.isclose(exit_price, x, rtol=1e-9))
        same_r = (pnl_r is None and np.isnan(r)) or (
            pnl_r is not None and np.isclose(pnl_r, r, rtol=1e-9, atol=1e-9))
        bad += not (o == outcome and same_x and same_r)
    return bad + abs(len(rows) - len(numpy_result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--id", default=None,
                        help="reuse the databases cqb_ID_* of a run made with --keep")
    args = parser.parse_args()
    uid = args.id or uuid.uuid4().hex[:8]
    settings = load_settings().replace(mysql_staging_database=f"cqb_{uid}_staging",
                                       mysql_warehouse_database=f"cqb_{uid}_warehouse")
    db.provision(settings)
    try:
        if not has_inputs(settings):
            build_inputs(settings)
        # --full-refresh: the trade models are incremental, and the numpy side evaluates every
        # trade, so every run must too
        dbt_args = ["run", "--full-refresh", "--select", *TRADE_MODELS]
        run_dbt(settings, dbt_args, capture=True)
        t0 = time.perf_counter()
        inputs = read_inputs(settings)
        read_s = time.perf_counter() - t0
        mismatches = compare(settings, evaluate_all(inputs))
        trades = sum(len(i[1]) for i in inputs)
        candles = sum(len(i[0]) for i in inputs)
        server_pid = mariadb_pid()
        with PeakRss() as mem_dbt, PeakRss(server_pid or -1) as mem_server:
            dbt_s = median(timed_runs(lambda: run_dbt(settings, dbt_args, capture=True),
                                      args.runs))
        with PeakRss(children=False) as mem_np:
            np_s = median(timed_runs(lambda: evaluate_all(inputs), args.runs))
        body = (
            "The dbt backtest (`dbt run` of int_backtest_candles_numbered, "
            "int_backtest_trades_entered, int_backtest_trade_candles and fact_prediction_result "
            "in MariaDB with `--full-refresh`, so every trade is evaluated each time; through "
            "`cryptoquant.dbt`'s long-lived dbt process, whose start-up the untimed first run "
            "paid) against a vectorised numpy evaluation of the "
            "same trades with the same rules (`bench.bench_backtest.evaluate_vectorised`), on "
            "the whole bundled sample with a pseudo-random LONG/SHORT/NO_TRADE action on every "
            f"candle. Median of {args.runs} runs. The two agree trade by trade before timing "
            f"(mismatches: {mismatches}).\n\n"
            + table(["candles", "trades", "dbt s", "dbt trades/s", "numpy s (+ read s)",
                     "numpy trades/s", "dbt / numpy", "dbt peak RSS MiB (+ MariaDB)",
                     "numpy peak RSS MiB"],
                    [[f"{candles:,}", f"{trades:,}", f"{dbt_s:.2f}", f"{trades / dbt_s:,.0f}",
                      f"{np_s:.2f} (+{read_s:.2f})", f"{trades / np_s:,.0f}",
                      f"{dbt_s / np_s:.1f}x",
                      f"{mem_dbt.peak_mb:,.0f} (+{mem_server.peak_mb:,.0f})",
                      f"{mem_np.peak_mb:,.0f}"]])
            + "\n\nPeak RSS (sampled every 0.2 s by `bench.report.PeakRss`): dbt = this "
            "benchmark's process tree during the dbt runs (its Python, holding the numpy "
            "inputs, plus the dbt subprocess); the SQL itself runs in the MariaDB server, "
            "shown in brackets: the shared server's whole resident size over the same time "
            "(buffer pool and other users' sessions included, not this job's share). numpy = "
            "the Python process alone during the evaluation."
            + "\n\nThe SQL side materialises every trade's 24-candle window (one row per trade "
            "and candle, indexed) so that the outcome stays inspectable and re-evaluated on each "
            "build; numpy holds the same windows as an in-memory matrix. Load average when "
            f"the run ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. Regenerate: "
            "`python -m bench.bench_backtest`.")
        print(body)
        write_section("Backtest", body)
    finally:
        if not args.keep:
            with db.connection(settings, role="admin", autocommit=True) as conn, \
                    conn.cursor() as cur:
                for name in (settings.mysql_staging_database, settings.mysql_warehouse_database):
                    cur.execute(f"drop database if exists `{name}`")


if __name__ == "__main__":
    main()
