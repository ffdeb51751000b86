"""The incremental backtest marts equal a --full-refresh of the same inputs, row for row and bit
for bit, and rewrite only the tail of each scope.

One warehouse with hand-made inputs in the contract's columns (tests/backtest/inputs.py): nine
months of the bundled real 1h candles of three symbols (three calendar quarters), an ATR and
the regime indicators per candle, and a pseudo-random LONG / SHORT / NO_TRADE prediction per
candle (a hash of the candle, as in tests/backtest/test_bundled_slice.py). It is backtested,
then changed the ways production changes it:

* six new candles per symbol with their predictions (the live case; trades still PENDING
  close, new trades enter);
* an older candle of one symbol re-landed with a much wider range (an old trade's outcome
  changes, and with it that symbol's and ALL's trade sequence from its exit on);
* an older NO_TRADE prediction turned LONG (a new trade in the middle of a sequence) and an
  older LONG turned NO_TRADE (a trade that vanishes);
* an older trade's ATR recomputed by Spark (its take-profit and stop-loss move).

Then an incremental `dbt run` of the backtest models, a copy of every table, a `--full-refresh`
of the same inputs, and every row and column compared exactly (`except` both ways; refreshed_at,
the time of the run that wrote a row, left out). The tail tests check, per scope, that rows
before the first changed trade (or quarter) keep the refreshed_at of the first build and rows
from it on carry the incremental run's: a regression to a full rebuild, or a too-late start,
fails them.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from cryptoquant import db
from cryptoquant.config import Settings
from cryptoquant.dbt import run_dbt as _run_dbt
from tests.backtest import inputs
from tests.dbt.conftest import fetch
from tests.support.sample import SYMBOLS, read_sample

pytestmark = pytest.mark.integration

START = dt.datetime(2021, 7, 1)
CUT = dt.datetime(2022, 3, 25)            # the first build sees candles opening before CUT
NEW_END = CUT + dt.timedelta(hours=6)     # six new candles per symbol
RELANDED = ("ETHUSDT", dt.datetime(2022, 2, 10, 5))    # range widened by 6% each side
TURNED_LONG = ("BTCUSDT", dt.datetime(2022, 3, 1))     # first NO_TRADE on or after this
TURNED_NO_TRADE = ("BNBUSDT", dt.datetime(2022, 3, 5))  # first LONG on or after this
ATR_CHANGED = ("BNBUSDT", dt.datetime(2022, 3, 12))    # first LONG or SHORT on or after this

SEQUENCE_MARTS = {"mart_equity_curve": "trade_number", "mart_walk_forward": "period_start"}
PER_CANDLE_MARTS = ("mart_regime", "mart_price_regression")  # windows over a series' candles
# every model the backtest selection builds, compared after the incremental run
BACKTEST_TABLES = {
    "int_backtest_candles_numbered": "symbol_id, interval_id, candle_number",
    "int_backtest_trades_entered": "prediction_id",
    "int_backtest_trade_candles": "prediction_id, bar_number",
    "fact_prediction_result": "prediction_id",
    "int_backtest_trades_scoped": "scope, trade_number",
    "mart_equity_curve": "scope, trade_number",
    "mart_walk_forward": "scope, period_start",
    "mart_rolling_performance": "scope, trade_number",
    "mart_monthly_performance": "scope, month_start",
    "mart_regime_performance": "scope, regime",
    "mart_backtest_summary": "scope",
    "mart_regime": "symbol_id, interval_id, open_time",
    "mart_price_regression": "symbol_id, interval_id, open_time",
}
RUN_COLUMNS = {"refreshed_at"}
TRADE_COLUMNS = "prediction_id, outcome, pnl_r, pnl_pct, bars_held, entry_time, exit_time"
SELECT = ["--select", "tag:backtest"]
# fact_kline_gap (with its outage seed and dimension), which the base stage builds before the
# backtest in the pipeline: the per-candle marts' look-back counts the missing candles
GAPS = ["--select", "exchange_outages", "dim_exchange_outage", "fact_kline_gap"]


def _action(symbol_id: int, open_time: dt.datetime) -> str:
    digest = int(hashlib.md5(f"{symbol_id}|{open_time}".encode()).hexdigest()[:8], 16)
    return ("LONG", "SHORT", "NO_TRADE")[digest % 3]


def _candles(symbol: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The bundled candles of [start, end) with indicator-like columns: ATR(14) as a mean of
    the true range, EMA(50), and ADX / Bollinger width stand-ins (the regime mart only needs
    numbers; the backtest reads the ATR)."""
    df = read_sample(symbol, start - dt.timedelta(days=10), end)
    prev_close = df.close.shift(1)
    true_range = pd.concat([df.high - df.low, (df.high - prev_close).abs(),
                            (df.low - prev_close).abs()], axis=1).max(axis=1)
    df["atr_14"] = true_range.rolling(14).mean()
    df["ema_50"] = df.close.ewm(span=50, adjust=False).mean()
    df["adx_14"] = 15 + 30 * (df.close.rolling(14).std() / df.close.rolling(14).mean() * 50
                              ).clip(0, 1)
    df["bb_width"] = 4 * df.close.rolling(20).std() / df.close.rolling(20).mean()
    return df[df.open_time >= start].dropna().reset_index(drop=True)


def land(settings: Settings, start: dt.datetime, end: dt.datetime) -> None:
    """Candles of [start, end), their indicators and one prediction per candle."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for symbol_id, symbol in enumerate(SYMBOLS, start=1):
            cur.execute("insert ignore into dim_symbol values (%s, %s, %s, 'USDT')",
                        (symbol_id, symbol, symbol[:-4]))
            df = _candles(symbol, start, end)
            times = [t.to_pydatetime() for t in df.open_time]
            cur.executemany(
                "insert into fact_kline (symbol_id, interval_id, open_time, close_time, open, "
                "high, low, close, volume, landed_at, refreshed_at) values (%s, %s, %s, %s, %s, "
                "%s, %s, %s, 1, %s, %s)",
                [(symbol_id, inputs.INTERVAL_ID, t, t + inputs.HOUR - dt.timedelta(milliseconds=1),
                  o, h, lo, c, now, now)
                 for t, o, h, lo, c in zip(times, df.open, df.high, df.low, df.close,
                                           strict=True)])
            for type_id, code in inputs.INDICATOR_CODES.items():
                cur.executemany(
                    "insert into fact_indicator (symbol_id, interval_id, indicator_type_id, "
                    "open_time, indicator_value, computed_at, refreshed_at) values "
                    "(%s, %s, %s, %s, %s, %s, %s)",
                    [(symbol_id, inputs.INTERVAL_ID, type_id, t, float(v), now, now)
                     for t, v in zip(times, df[code], strict=True)])
            cur.executemany(
                "insert into fact_prediction (prediction_id, symbol_id, interval_id, open_time, "
                "predicting_at, direction, action, action_reason, refreshed_at) values "
                "(%s, %s, %s, %s, %s, 'n/a', %s, 'fixture', %s)",
                [(hashlib.md5(f"{symbol_id}|{t}".encode()).hexdigest(), symbol_id,
                  inputs.INTERVAL_ID, t, t + inputs.HOUR, _action(symbol_id, t), now)
                 for t in times])
        # fresh statistics, as a table built by dbt has: on stale ones MariaDB joins
        # mart_regime's grouped indicators without a key (minutes instead of a second)
        cur.execute("analyze table fact_kline, fact_indicator, fact_prediction")
        cur.fetchall()
        conn.commit()


def create_tables(settings: Settings) -> None:
    """The backtest tests' input tables (with refreshed_at, the change feed of the incremental
    models) plus the load-time columns the real facts carry."""
    inputs.create_tables(settings)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        cur.execute("alter table fact_kline add landed_at datetime(6)")
        cur.execute("alter table fact_indicator add computed_at datetime(6)")
        conn.commit()


def change_history(settings: Settings) -> None:
    """The re-landed candle and the two turned predictions (see the module docstring)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = {s: i for i, s in enumerate(SYMBOLS, start=1)}
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        symbol, open_time = RELANDED
        cur.execute("update fact_kline set high = high * 1.06, low = low * 0.94, landed_at = %s, "
                    "refreshed_at = %s where symbol_id = %s and open_time = %s",
                    (now, now, ids[symbol], open_time))
        assert cur.rowcount == 1
        for (symbol, after), (old, new) in ((TURNED_LONG, ("NO_TRADE", "LONG")),
                                            (TURNED_NO_TRADE, ("LONG", "NO_TRADE"))):
            cur.execute("update fact_prediction set action = %s, refreshed_at = %s "
                        "where symbol_id = %s and action = %s and open_time >= %s "
                        "order by open_time limit 1", (new, now, ids[symbol], old, after))
            assert cur.rowcount == 1
        symbol, after = ATR_CHANGED
        cur.execute("update fact_indicator set indicator_value = indicator_value * 3, "
                    "computed_at = %s, refreshed_at = %s where symbol_id = %s "
                    "and indicator_type_id = %s and open_time = (select min(open_time) "
                    "from fact_prediction where symbol_id = %s and action in ('LONG', 'SHORT') "
                    "and open_time >= %s)",
                    (now, now, ids[symbol], inputs.ATR_TYPE_ID, ids[symbol], after))
        assert cur.rowcount == 1
        conn.commit()


def atr_changed_trade(settings: Settings) -> tuple[str, dt.datetime]:
    """The prediction_id and open time of the trade whose ATR change_history changed."""
    symbol, after = ATR_CHANGED
    (row,) = fetch(settings, "select p.prediction_id, p.open_time from fact_prediction p "
                             "join dim_symbol s on s.symbol_id = p.symbol_id "
                             "where s.symbol_code = %s and p.action in ('LONG', 'SHORT') "
                             "and p.open_time >= %s order by p.open_time limit 1",
                   (symbol, after))
    return row[0], row[1]


def copy_tables(settings: Settings, suffix: str) -> None:
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for table in BACKTEST_TABLES:
            cur.execute(f"create table {table}__{suffix} as select * from {table}")
        conn.commit()


def refreshed(settings: Settings, table: str) -> dict[tuple, dt.datetime]:
    position = SEQUENCE_MARTS[table]
    return {(r[0], r[1]): r[2] for r in fetch(
        settings, f"select scope, {position}, refreshed_at from {table}")}


def candle_refreshed(settings: Settings, table: str) -> dict[tuple, dt.datetime]:
    return {(r[0], r[1]): r[2] for r in fetch(
        settings, f"select s.symbol_code, m.open_time, m.refreshed_at from {table} m "
                  "join dim_symbol s on s.symbol_id = m.symbol_id")}


def scoped_trades(settings: Settings) -> dict[tuple, tuple]:
    return {(r[0], r[1]): r[2:] for r in fetch(
        settings, f"select scope, trade_number, {TRADE_COLUMNS} from int_backtest_trades_scoped")}


def quarter_start(t: dt.datetime) -> dt.date:
    return dt.date(t.year, 3 * ((t.month - 1) // 3) + 1, 1)


def first_changes(before: dict[tuple, tuple], after: dict[tuple, tuple]) -> dict[str, tuple]:
    """Per scope: (the first trade_number whose trade differs, or is new or gone; the first
    quarter of the exits at that trade_number before and after), from the trade sequences."""
    out = {}
    for scope in {k[0] for k in before} | {k[0] for k in after}:
        numbers = sorted({k[1] for k in before if k[0] == scope}
                         | {k[1] for k in after if k[0] == scope})
        for n in numbers:
            old, new = before.get((scope, n)), after.get((scope, n))
            if old != new:
                exits = [t[-1] for t in (old, new) if t is not None]
                out[scope] = (n, min(quarter_start(t) for t in exits))
                break
    return out


def columns_of(settings: Settings, table: str) -> list[str]:
    return [r[0] for r in fetch(settings, "select column_name from information_schema.columns "
                                          "where table_schema = database() and table_name = %s "
                                          "order by ordinal_position", (table,))]


@pytest.fixture(scope="module")
def backtest(make_settings, dbt_target_path):
    settings = make_settings("dbtbt")

    def run_dbt(*args):
        return _run_dbt(settings, [*args, "--target-path", dbt_target_path], capture=True)

    # 1. the first build: candles before CUT
    create_tables(settings)
    land(settings, START, CUT)
    run_dbt("build", *GAPS)
    run_dbt("run", *SELECT)
    before = {table: refreshed(settings, table) for table in SEQUENCE_MARTS}
    candles_before = {table: candle_refreshed(settings, table) for table in PER_CANDLE_MARTS}
    trades_before = scoped_trades(settings)
    results_before = dict(fetch(settings, "select prediction_id, outcome "
                                          "from fact_prediction_result"))

    # 2. the changes: new candles, a re-landed older candle, turned predictions
    land(settings, CUT, NEW_END)
    change_history(settings)
    atr_changed = atr_changed_trade(settings)

    # 3. incremental run of the same selection; keep a copy of every table
    run_dbt("build", *GAPS)
    run_dbt("run", *SELECT)
    after = {table: refreshed(settings, table) for table in SEQUENCE_MARTS}
    candles_after = {table: candle_refreshed(settings, table) for table in PER_CANDLE_MARTS}
    trades_after = scoped_trades(settings)
    results_after = dict(fetch(settings, "select prediction_id, outcome "
                                         "from fact_prediction_result"))
    per_trade = {
        "numbered": {(r[0], r[1]): r[2:] for r in fetch(
            settings, "select s.symbol_code, n.open_time, n.candle_number, n.refreshed_at "
                      "from int_backtest_candles_numbered n "
                      "join dim_symbol s on s.symbol_id = n.symbol_id")},
        "entered": {r[0]: r[1:] for r in fetch(
            settings, "select prediction_id, symbol_id, signal_candle_number, refreshed_at "
                      "from int_backtest_trades_entered")},
        "fact_prediction_result": dict(fetch(
            settings, "select prediction_id, refreshed_at from fact_prediction_result")),
        "int_backtest_trade_candles": dict(fetch(
            settings, "select prediction_id, max(refreshed_at) from int_backtest_trade_candles "
                      "group by prediction_id having min(refreshed_at) = max(refreshed_at)")),
        "trades_with_windows": {r[0] for r in fetch(
            settings, "select distinct prediction_id from int_backtest_trade_candles")},
    }
    copy_tables(settings, "incremental")

    # 4. the same inputs, --full-refresh
    run_dbt("run", *SELECT, "--full-refresh")
    return {"settings": settings, "before": before, "after": after,
            "changes": first_changes(trades_before, trades_after), "atr_changed": atr_changed,
            "results": (results_before, results_after), "per_trade": per_trade,
            "per_candle": (candles_before, candles_after),
            "run_dbt": run_dbt}


@pytest.mark.parametrize("table", sorted(BACKTEST_TABLES))
def test_incremental_run_equals_full_refresh(backtest, table):
    """Exactly equal, floats included: the running sums are continued by the same additions
    in the same order as a full build (macro backtest_equity_path)."""
    settings = backtest["settings"]
    assert columns_of(settings, f"{table}__incremental") == columns_of(settings, table)
    columns = ", ".join(c for c in columns_of(settings, table) if c not in RUN_COLUMNS)
    counts = fetch(settings, f"select (select count(*) from {table}__incremental), "
                             f"(select count(*) from {table})")
    assert counts[0][0] == counts[0][1] > 0, counts
    for one, other in ((f"{table}__incremental", table), (table, f"{table}__incremental")):
        differ = fetch(settings, f"select {columns} from {one} except select {columns} "
                                 f"from {other} order by {BACKTEST_TABLES[table]} limit 3")
        assert differ == [], (one, differ)


def test_the_changes_reach_the_trades(backtest):
    """The scenario exercises what it claims: an old trade's outcome changed, a trade
    appeared and one vanished in the middle of the history, PENDING trades closed, and
    the first change of ETH and ALL lies quarters before the end, of BTC and BNB late."""
    results_before, results_after = backtest["results"]
    common = results_before.keys() & results_after.keys()
    changed = {p for p in common if results_before[p] != results_after[p]}
    assert any(results_before[p] == "PENDING" for p in changed)
    assert any(results_before[p] != "PENDING" for p in changed)
    assert results_before.keys() - results_after.keys()
    changes = backtest["changes"]
    assert set(changes) == {*SYMBOLS, "ALL"}
    assert changes["ETHUSDT"][1] <= quarter_start(RELANDED[1])
    assert changes["ALL"][1] <= quarter_start(RELANDED[1])
    assert changes["ETHUSDT"][1] > quarter_start(START)
    entered = backtest["per_trade"]["entered"]
    run_at = max(at for *_, at in entered.values())
    assert entered[backtest["atr_changed"][0]][2] == run_at  # its levels were recomputed


@pytest.mark.parametrize("table", sorted(SEQUENCE_MARTS))
def test_incremental_run_rewrites_only_the_tail(backtest, table):
    before, after, changes = backtest["before"][table], backtest["after"][table], backtest["changes"]
    run_at = max(after.values())
    kept, rewritten, wrong = 0, 0, []
    for (scope, position), at in after.items():
        first = changes[scope][0 if table == "mart_equity_curve" else 1]
        if position < first:
            kept += 1
            if at != before.get((scope, position)):
                wrong.append(("rewritten before the first change", scope, position))
        else:
            rewritten += 1
            if at != run_at:
                wrong.append(("not rewritten from the first change on", scope, position))
    assert not wrong, (len(wrong), wrong[:5])
    assert rewritten > 0
    assert kept > rewritten  # most of the history is older than the changes


def test_only_the_changed_candles_are_renumbered(backtest):
    """The new candles and the re-landed one carry the incremental run's refreshed_at, every
    other candle the first build's (a re-landed candle keeps its number: nothing after it is
    rewritten)."""
    numbered = backtest["per_trade"]["numbered"]
    run_at = max(at for _, at in numbered.values())
    rewritten = {key for key, (_, at) in numbered.items() if at == run_at}
    expected = {key for key in numbered if key[1] >= CUT} | {RELANDED}
    assert rewritten == expected


@pytest.mark.parametrize("table", PER_CANDLE_MARTS)
def test_per_candle_marts_rewrite_each_series_from_its_first_changed_candle(backtest, table):
    """The rows of a series from its earliest rewritten candle on (the re-landed ETH candle;
    the first new candle of BTC and BNB) carry the incremental run's refreshed_at, the older
    rows the first build's: the run read a look-back of candles before that point, not the
    whole history, and still equals --full-refresh (test above)."""
    before, after = (state[table] for state in backtest["per_candle"])
    first = {symbol: CUT for symbol in SYMBOLS} | {RELANDED[0]: RELANDED[1]}
    if table == "mart_regime":  # reads the ATR; mart_price_regression only the candles
        first[ATR_CHANGED[0]] = backtest["atr_changed"][1]
    run_at = max(after.values())
    wrong = [(key, at) for key, at in after.items()
             if (at == run_at) != (key[1] >= first[key[0]])
             or (key[1] < first[key[0]] and at != before.get(key))]
    assert not wrong, (len(wrong), wrong[:5])
    assert len({key for key, at in after.items() if at == run_at}) > 6 * len(SYMBOLS)


@pytest.mark.parametrize("table", ["fact_prediction_result", "int_backtest_trade_candles"])
def test_only_the_changed_trades_are_redone(backtest, table):
    """Exactly the trades whose window (signal candle and the 24 after it) holds a rewritten
    candle, and the trades that are new (turned LONG, new candles' predictions), are redone;
    the rest keep the first build's rows. int_backtest_trade_candles holds rows only for
    trades with a window (an entry candle and an ATR)."""
    per_trade = backtest["per_trade"]
    numbered, entered = per_trade["numbered"], per_trade["entered"]
    ids = {s: i for i, s in enumerate(SYMBOLS, start=1)}
    changed = {(ids[symbol], number) for (symbol, t), (number, _) in numbered.items()
               if t >= CUT or (symbol, t) == RELANDED}
    new = set(entered) - set(backtest["results"][0])
    expected = new | {backtest["atr_changed"][0]} | {p for p, (symbol_id, signal, _) in entered.items()
                      if any((symbol_id, signal + k) in changed for k in range(25))}
    rows = per_trade[table]
    if table == "int_backtest_trade_candles":
        assert set(rows) == per_trade["trades_with_windows"]  # one refreshed_at per trade
        expected &= per_trade["trades_with_windows"]
    run_at = max(rows.values())
    redone = {p for p, at in rows.items() if at == run_at}
    assert redone == expected, (len(redone - expected), len(expected - redone))
    assert any(numbered[RELANDED][0] - 24 <= entered[p][1] < numbered[RELANDED][0]
               for p in redone)  # trades before the re-landed candle were redone
    assert len(rows) > 10 * len(redone)


def test_candles_gone_renumber_and_take_the_entry_back(backtest):
    """A series' last candle vanishes and another series loses a candle in the middle of its
    history (re-landed without them): the second series is renumbered from there, and the
    trade signalled on the candle before the gone last one loses its entry, as in a
    --full-refresh, although nothing these read was rewritten (the change feeds only show
    what was written: gone candles are found by counting). Runs after the tests above (it
    changes the inputs)."""
    settings, run_dbt = backtest["settings"], backtest["run_dbt"]
    rows = fetch(settings, "select p.prediction_id, p.symbol_id, k.open_time from fact_prediction p "
                           "join (select symbol_id, max(open_time) as open_time from fact_kline "
                           "group by symbol_id) k on k.symbol_id = p.symbol_id "
                           "and p.open_time = k.open_time - interval 1 hour "
                           "where p.action in ('LONG', 'SHORT') order by p.symbol_id limit 1")
    assert rows, "no series whose last-but-one candle signals a trade"
    prediction_id, symbol_id, last = rows[0]
    middle = (symbol_id % len(SYMBOLS) + 1, dt.datetime(2021, 12, 1, 7))
    entry = "select entry_candle_number, entry_price, tp_price from int_backtest_trades_entered " \
            "where prediction_id = %s"
    assert fetch(settings, entry, (prediction_id,))[0][0] is not None
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for gone in ((symbol_id, last), middle):
            for table in ("fact_kline", "fact_indicator", "fact_prediction"):
                cur.execute(f"delete from {table} where symbol_id = %s and open_time = %s", gone)
                assert cur.rowcount >= 1, (table, gone)
        conn.commit()
    run_dbt("run", *SELECT)
    assert fetch(settings, entry, (prediction_id,)) == [(None, None, None)]
    tables = ("int_backtest_candles_numbered", "int_backtest_trades_entered")

    def rows_of(table: str) -> list[tuple]:
        columns = ", ".join(c for c in columns_of(settings, table) if c not in RUN_COLUMNS)
        return fetch(settings, f"select {columns} from {table} order by {BACKTEST_TABLES[table]}")

    incremental = {table: rows_of(table) for table in tables}
    run_dbt("run", *SELECT, "--full-refresh")
    for table in tables:
        assert incremental[table] == rows_of(table), table


def test_changed_parameters_rebuild_without_full_refresh(backtest):
    """Another risk fraction, then a run without --full-refresh: the equity marts rebuild in
    full (one refreshed_at) and equal a --full-refresh with the same vars. Runs last."""
    settings, run_dbt = backtest["settings"], backtest["run_dbt"]
    marts = list(SEQUENCE_MARTS)
    new_vars = ["--vars", "{backtest_risk_fraction_per_trade: 0.02}"]
    run_dbt("run", "--select", *marts, *new_vars)
    for table in marts:
        assert len(fetch(settings, f"select distinct refreshed_at from {table}")) == 1, table
    (first,) = fetch(settings, "select equity, pnl_r from mart_equity_curve "
                               "where scope = 'ALL' and trade_number = 1")
    assert first[0] == pytest.approx(10_000 * (1 + 0.02 * first[1]), rel=1e-12)
    with db.warehouse(settings) as conn, conn.cursor() as cur:
        for table in marts:
            cur.execute(f"create table {table}__new_vars as select * from {table}")
        conn.commit()
    run_dbt("run", "--select", *marts, *new_vars, "--full-refresh")
    for table in marts:
        columns = ", ".join(c for c in columns_of(settings, table) if c not in RUN_COLUMNS)
        assert fetch(settings, f"select count(*) from (select {columns} from {table}__new_vars "
                               f"except select {columns} from {table}) as d") == [(0,)]
