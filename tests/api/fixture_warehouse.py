"""A small warehouse with the product's table names and columns, for the API tests.

Prices are the bundled real BTC/ETH/BNB klines (January 2022); indicators, predictions,
trades and the analytics marts are derived from them with simple, deterministic arithmetic
(not the real pipeline's): the API only reads these tables, so their shape is what matters.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from cryptoquant import db
from cryptoquant.config import Settings
from spark.fpgrowth import store as fp_store
from tests.support.sample import read_sample

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
START, END = dt.datetime(2022, 1, 1), dt.datetime(2022, 2, 1)
INDICATORS = ("rsi_14", "ema_12", "ema_26", "ema_50", "bb_upper", "bb_middle", "bb_lower",
              "atr_14")

DDL = """
create table dim_symbol (symbol_id int primary key, symbol_code varchar(20) not null unique,
    base_asset varchar(10), quote_asset varchar(10));
create table dim_interval (interval_id int primary key, interval_code varchar(8) not null unique,
    interval_seconds int not null);
create table dim_indicator_type (indicator_type_id int primary key,
    indicator_code varchar(40) not null unique, indicator_name varchar(100));
create table fact_kline (symbol_id int not null, interval_id int not null,
    open_time datetime not null, close_time datetime not null, open double, high double,
    low double, close double, volume double, is_placeholder_candle boolean not null,
    primary key (symbol_id, interval_id, open_time));
create table fact_indicator (symbol_id int not null, interval_id int not null,
    indicator_type_id int not null, open_time datetime not null, indicator_value double,
    primary key (symbol_id, interval_id, indicator_type_id, open_time));
create table fact_prediction (prediction_id varchar(64) primary key, symbol_id int,
    interval_id int, open_time datetime, predicting_at datetime, trend_score double,
    momentum_score double, volume_score double, volatility_score double, market_score double,
    direction varchar(8), confidence_score double, is_conflict boolean, is_weak_edge boolean,
    is_outside_confidence_band boolean, is_no_trade boolean, action varchar(8),
    action_reason text, conflict_reason text, weak_edge_reason text,
    confidence_band_reason text, no_trade_reason text, max_possible_score double default 8);
create table fact_prediction_result (prediction_id varchar(64) primary key, symbol_id int,
    interval_id int, action varchar(8), entry_time datetime, entry_price double,
    tp_price double, sl_price double, exit_time datetime, exit_price double,
    outcome varchar(8), bars_held int, pnl_pct double, pnl_r double,
    signal_open_time datetime, exit_reason varchar(16), is_closed boolean,
    gross_pnl_pct double, risk_pct double);
create table mart_equity_curve (scope varchar(20), exit_time datetime, trade_number int,
    pnl_r double, equity double, peak_equity double, drawdown_pct double,
    prediction_id varchar(64), action varchar(8), outcome varchar(8));
create table mart_rolling_performance (scope varchar(20), exit_time datetime,
    trade_number int, rolling_expectancy_r double, rolling_win_rate double,
    window_trades int);
create table mart_regime (symbol_id int, interval_id int, open_time datetime,
    regime varchar(40), trend_strength varchar(20), volatility_state varchar(20),
    adx_14 double, atr_pct double, ema_slope_pct double, atr_pct_ratio double,
    bb_width double);
create table mart_price_regression (symbol_id int, interval_id int, open_time datetime,
    fitted_close double, upper_band double, lower_band double, slope double,
    r_squared double, residual_zscore double, window_candles int default 48,
    slope_pct double, residual_std double)
"""


def _frame(symbol: str) -> pd.DataFrame:
    df = read_sample(symbol, START, END)
    close = df.close
    for n in (12, 26, 50):
        df[f"ema_{n}"] = close.ewm(span=n, adjust=False).mean()
    mid, std = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    df["bb_middle"], df["bb_upper"], df["bb_lower"] = mid, mid + 2 * std, mid - 2 * std
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / 14, adjust=False).mean()
    df["rsi_14"] = 100 - 100 / (1 + gain / loss)
    true_range = pd.concat([df.high - df.low, (df.high - close.shift()).abs(),
                            (df.low - close.shift()).abs()], axis=1).max(axis=1)
    df["atr_14"] = true_range.ewm(alpha=1 / 14, adjust=False).mean()
    return df


def _scores(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"open_time": df.open_time})
    out["trend_score"] = np.clip((df.ema_12 - df.ema_26) / df.atr_14, -2, 2).round(3)
    out["momentum_score"] = np.clip((df.rsi_14 - 50) / 10, -2, 2).round(3)
    out["volume_score"] = np.clip(np.log(df.volume / df.volume.rolling(24).mean()), -2, 2).round(3)
    width = (df.bb_upper - df.bb_lower) / df.bb_middle
    out["volatility_score"] = np.clip((width - width.rolling(48).mean()) * 50, -2, 2).round(3)
    return out.fillna(0.0)


def build(settings: Settings) -> dict:
    """Create and fill the fixture warehouse in settings' (isolated) databases."""
    with db.warehouse(settings) as conn:
        db.run_sql_script(conn, DDL)
    fp_store.ensure_tables(settings)  # the FP-Growth job's own DDL
    now = dt.datetime(2022, 2, 1, 0, 5)
    symbols = [(i + 1, s, s[:-4], "USDT") for i, s in enumerate(SYMBOLS)]
    rows: dict[str, list] = {k: [] for k in (
        "kline", "indicator", "prediction", "result", "regime", "regression")}
    trades = []
    for symbol_id, symbol, _, _ in symbols:
        df = _frame(symbol)
        scores = _scores(df)
        for r in df.itertuples(index=False):
            t = r.open_time.to_pydatetime()
            rows["kline"].append((symbol_id, 1, t, t + dt.timedelta(seconds=3599), r.open, r.high,
                                  r.low, r.close, r.volume, r.volume == 0))
            for code_id, code in enumerate(INDICATORS, 1):
                value = getattr(r, code)
                if not pd.isna(value):
                    rows["indicator"].append((symbol_id, 1, code_id, t, float(value)))
        for i, s in enumerate(scores.itertuples(index=False)):
            t = s.open_time.to_pydatetime()
            parts = [s.trend_score, s.momentum_score, s.volume_score, s.volatility_score]
            market = round(sum(parts), 3)
            conflict = max(parts) > 1 and min(parts) < -1
            weak = abs(market) < 1.0
            no_trade = s.volatility_score > 1.8
            action = "NO_TRADE" if conflict or weak or no_trade else (
                "LONG" if market > 0 else "SHORT")
            reason = (f"market score {market:+.2f}: "
                      + ("components disagree; " if conflict else "")
                      + ("edge too weak; " if weak else "")
                      + ("volatility extreme; " if no_trade else "")
                      + f"action {action}")
            pid = f"{symbol}-1h-{t:%Y%m%d%H}"
            rows["prediction"].append((
                pid, symbol_id, 1, t, t + dt.timedelta(hours=1), *parts, market,
                "UP" if market > 0 else "DOWN", min(abs(market) / 8, 1.0), conflict, weak,
                False, no_trade, action, reason,
                "components disagree" if conflict else None,
                f"|market score| {abs(market):.2f} < 1.00" if weak else None, None,
                "volatility extreme" if no_trade else None))
            if action != "NO_TRADE" and i + 7 < len(df):
                entry, exit_ = df.iloc[i + 1], df.iloc[i + 6]
                side = 1 if action == "LONG" else -1
                atr = float(df.atr_14.iloc[i])
                pnl_pct = side * (exit_.close / entry.open - 1) * 100 - 0.24
                pnl_r = pnl_pct / (atr / entry.open * 100)
                rows["result"].append((
                    pid, symbol_id, 1, action, entry.open_time.to_pydatetime(), entry.open,
                    entry.open + side * 2 * atr, entry.open - side * atr,
                    exit_.open_time.to_pydatetime(), exit_.close,
                    "WIN" if pnl_pct > 0 else "LOSS", 6, pnl_pct, pnl_r, t, "TIMEOUT", True,
                    pnl_pct + 0.24, atr / entry.open * 100))
                trades.append((symbol, exit_.open_time.to_pydatetime(), pnl_r))
            regime = ("trend" if abs(s.trend_score) > 1 else "range") + (
                "_highvol" if s.volatility_score > 0 else "_lowvol")
            rows["regime"].append((symbol_id, 1, t, regime,
                                   "strong" if abs(s.trend_score) > 1 else "weak",
                                   "high" if s.volatility_score > 0 else "low",
                                   20 + 10 * abs(s.trend_score), 0.5 + s.volatility_score / 4))
        window = 48
        closes = df.close.to_numpy()
        x = np.arange(window)
        for i in range(window - 1, len(df)):
            y = closes[i - window + 1:i + 1]
            slope, intercept = np.polyfit(x, y, 1)
            fitted = intercept + slope * x
            resid = y - fitted
            sigma = resid.std(ddof=2)
            r2 = 1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum()
            rows["regression"].append((symbol_id, 1, df.open_time.iloc[i].to_pydatetime(),
                                       fitted[-1], fitted[-1] + 2 * sigma, fitted[-1] - 2 * sigma,
                                       slope, r2, resid[-1] / sigma))
    equity, rolling = _equity(trades)
    rules = _rules()
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.executemany("insert into dim_symbol values (%s, %s, %s, %s)", symbols)
        cur.executemany("insert into dim_interval values (%s, %s, %s)",
                        [(1, "1h", 3600), (2, "4h", 14400)])
        cur.executemany("insert into dim_indicator_type values (%s, %s, %s)",
                        [(i, c, c.upper()) for i, c in enumerate(INDICATORS, 1)])
        for table, key in (("fact_kline", "kline"), ("fact_indicator", "indicator"),
                           ("fact_prediction", "prediction"),
                           ("fact_prediction_result", "result"), ("mart_regime", "regime"),
                           ("mart_price_regression", "regression")):
            width = len(rows[key][0])  # the first `width` columns, in DDL order
            cur.execute(f"select * from {table} limit 0")
            columns = ", ".join(d[0] for d in cur.description[:width])
            cur.executemany(f"insert into {table} ({columns}) values "
                            f"({', '.join(['%s'] * width)})", rows[key])
        cur.executemany("insert into mart_equity_curve (scope, exit_time, trade_number, pnl_r, "
                        "equity, peak_equity, drawdown_pct) values (%s, %s, %s, %s, %s, %s, %s)",
                        equity)
        cur.executemany("insert into mart_rolling_performance (scope, exit_time, trade_number, "
                        "rolling_expectancy_r, rolling_win_rate, window_trades) values "
                        "(%s, %s, %s, %s, %s, %s)",
                        rolling)
        columns = ", ".join(RULE_COLUMNS)
        cur.executemany(f"insert into {fp_store.RULES_TABLE} ({columns}) values "
                        f"({', '.join(['%s'] * len(RULE_COLUMNS))})", rules)
        conn.commit()
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into pipeline_runs values (%s, %s, %s, %s, %s, %s)",
            [("20220201T000000-aaaaaa", "dbt_base", "success", "{}", now,
              now + dt.timedelta(minutes=1)),
             ("20220201T000000-aaaaaa", "dbt_marts", "success", "{}",
              now + dt.timedelta(minutes=1), now + dt.timedelta(minutes=3))])
        conn.commit()
    return {k: len(v) for k, v in rows.items()} | {"trades": len(trades), "rules": len(rules)}


def _equity(trades: list[tuple]) -> tuple[list, list]:
    equity_rows, rolling_rows = [], []
    trades = sorted(trades, key=lambda t: t[1])
    for scope in (*SYMBOLS, "ALL"):
        mine = [t for t in trades if scope in ("ALL", t[0])]
        equity = peak = 10_000.0
        for n, (_, exit_time, pnl_r) in enumerate(mine, 1):
            equity *= 1 + 0.01 * pnl_r
            peak = max(peak, equity)
            equity_rows.append((scope, exit_time, n, pnl_r, equity, peak,
                                (equity / peak - 1) * 100))
            last = [t[2] for t in mine[max(0, n - 50):n]]
            rolling_rows.append((scope, exit_time, n, float(np.mean(last)),
                                 float(np.mean([p > 0 for p in last])), len(last)))
    return equity_rows, rolling_rows


RULE_COLUMNS = ("rule_id", "antecedent", "consequent", "antecedent_size", "antecedent_count",
                "win_count", "support", "confidence", "lift", "base_win_rate", "p_value",
                "q_value", "is_significant", "oos_antecedent_count", "oos_win_count",
                "oos_support", "oos_confidence", "oos_lift", "run_id", "mined_at")


def _rules() -> list[tuple]:
    rng = np.random.default_rng(7)
    items = ["rsi=oversold", "rsi=overbought", "macd=bull_cross", "trend=up", "trend=down",
             "bb=squeeze", "regime=trend_highvol", "side=LONG", "side=SHORT", "symbol=BTCUSDT"]
    rules, trades, base = [], 1000, 0.45
    for i in range(40):
        antecedent = sorted(rng.choice(items, size=int(rng.integers(1, 4)), replace=False))
        matched = int(rng.integers(30, 300))
        wins = int(matched * rng.uniform(0.3, 0.75))
        q = float(rng.uniform(0.001, 0.6))
        oos_matched = int(rng.integers(10, 100))
        oos_wins = int(oos_matched * rng.uniform(0.3, 0.7))
        rules.append((f"{i:064d}", json.dumps(antecedent), json.dumps(["outcome=WIN"]),
                      len(antecedent), matched, wins, wins / trades, wins / matched,
                      wins / matched / base, base, q / 3, q, q < 0.05, oos_matched, oos_wins,
                      oos_wins / 400, oos_wins / oos_matched, oos_wins / oos_matched / 0.44,
                      "fp-run-1", dt.datetime(2022, 2, 1, 0, 10)))
    return rules
