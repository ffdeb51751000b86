"""Hand-made warehouse inputs for the backtest models (the contract's columns the backtest
reads): dims, fact_kline, fact_indicator and fact_prediction written straight into an isolated
warehouse, so the dbt backtest models can be built on cases chosen to hit each rule."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from cryptoquant import db
from cryptoquant.config import Settings
from cryptoquant.dbt import run_dbt

INTERVAL_ID = 4  # 1h, as in the intervals seed
ATR_TYPE_ID = 1
T0 = dt.datetime(2022, 1, 3)
HOUR = dt.timedelta(hours=1)

DDL = [
    "create table dim_symbol (symbol_id int primary key, symbol_code varchar(20), "
    "base_asset varchar(10), quote_asset varchar(10))",
    "create table dim_interval (interval_id int primary key, interval_code varchar(8), "
    "interval_seconds int)",
    "create table dim_indicator_type (indicator_type_id bigint primary key, "
    "indicator_code varchar(32))",
    "create table fact_kline (symbol_id int, interval_id int, open_time datetime, "
    "close_time datetime(3), open decimal(28,10), high decimal(28,10), low decimal(28,10), "
    "close decimal(28,10), volume decimal(36,10), is_placeholder_candle int default 0, "
    # refreshed_at: the change feed the incremental marts (mart_regime, ...) read
    "refreshed_at datetime(6) not null default current_timestamp(6), "
    "primary key (symbol_id, interval_id, open_time))",
    "create table fact_indicator (symbol_id int, interval_id int, indicator_type_id bigint, "
    "open_time datetime, indicator_value double, "
    "refreshed_at datetime(6) not null default current_timestamp(6), "
    "primary key (symbol_id, interval_id, indicator_type_id, open_time))",
    "create table fact_prediction (prediction_id varchar(64) primary key, symbol_id int, "
    "interval_id int, open_time datetime, predicting_at datetime, direction varchar(8), "
    "action varchar(8), action_reason text, "
    # the change feed int_backtest_trades_entered reads (as in the real fact_prediction)
    "refreshed_at datetime(6) not null default current_timestamp(6))",
    # read by the incremental look-back of mart_regime and mart_price_regression (tag backtest);
    # left empty: no test here asserts those marts
    "create table fact_kline_gap (symbol_id int, interval_id int, gap_start_at datetime, "
    "gap_end_at datetime, missing_candles int)",
]
INDICATOR_CODES = {1: "atr_14", 2: "adx_14", 3: "ema_50", 4: "bb_width"}


@dataclass
class Case:
    """One series (its own symbol) with one signal: candles as (open, high, low, close)."""

    symbol_id: int
    action: str
    candles: list[tuple[float, float, float, float]]
    signal_index: int = 0
    atr: float | None = 1.0
    skip_hours: dict[int, int] = field(default_factory=dict)  # candle index -> hours missing

    @property
    def code(self) -> str:
        return f"T{self.symbol_id:03d}USDT"

    @property
    def prediction_id(self) -> str:
        return hashlib.md5(f"{self.code}|{self.signal_index}".encode()).hexdigest()

    def times(self) -> list[dt.datetime]:
        out, t = [], T0
        for i in range(len(self.candles)):
            t += HOUR * self.skip_hours.get(i, 0)
            out.append(t)
            t += HOUR
        return out


def flat(n: int, price: float = 100.0) -> list[tuple[float, float, float, float]]:
    """n quiet candles around ``price`` that touch no level of an ATR-1 trade."""
    return [(price, price + 0.5, price - 0.5, price)] * n


def create_tables(settings: Settings) -> None:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for ddl in DDL:
            cur.execute(ddl)
        cur.execute("insert into dim_interval values (%s, '1h', 3600)", (INTERVAL_ID,))
        cur.executemany("insert into dim_indicator_type values (%s, %s)",
                        list(INDICATOR_CODES.items()))
        conn.commit()


def write_cases(settings: Settings, cases: list[Case]) -> None:
    """Insert (or extend) the cases' candles, ATR at the signal candle and the prediction."""
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for c in cases:
            times = c.times()
            cur.execute("insert ignore into dim_symbol values (%s, %s, 'T', 'USDT')",
                        (c.symbol_id, c.code))
            cur.executemany(
                "insert ignore into fact_kline (symbol_id, interval_id, open_time, close_time, "
                "open, high, low, close, volume) values (%s, %s, %s, %s, %s, %s, %s, %s, 1)",
                [(c.symbol_id, INTERVAL_ID, t, t + HOUR - dt.timedelta(milliseconds=1), *ohlc)
                 for t, ohlc in zip(times, c.candles, strict=True)])
            signal_time = times[c.signal_index]
            if c.atr is not None:
                cur.execute("insert ignore into fact_indicator (symbol_id, interval_id, indicator_type_id, "
                            "open_time, indicator_value) values (%s, %s, %s, %s, %s)",
                            (c.symbol_id, INTERVAL_ID, ATR_TYPE_ID, signal_time, c.atr))
            cur.execute("insert ignore into fact_prediction (prediction_id, symbol_id, "
                        "interval_id, open_time, predicting_at, direction, action, "
                        "action_reason) values (%s, %s, %s, %s, %s, 'n/a', %s, 'fixture')",
                        (c.prediction_id, c.symbol_id, INTERVAL_ID, signal_time,
                         signal_time + HOUR, c.action))
        conn.commit()


def build_backtest(settings: Settings, *extra: str) -> None:
    """dbt build of the backtest models and their tests (dbt tests failing fail the call);
    tests of other areas' models that merely read the backtest are left out (buildable)."""
    run_dbt(settings, ["build", "--select", "tag:backtest", "--indirect-selection", "buildable",
                       *extra], capture=True)


def fetch(settings: Settings, sql: str, args=()) -> list[dict]:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
