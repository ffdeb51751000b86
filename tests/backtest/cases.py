"""The rule cases: one symbol per case, signal at candle 0, entry at candle 1 (open 100), ATR 1,
so a LONG has TP 102 / SL 99 and a SHORT TP 98 / SL 101; quiet candles (99.5..100.5) touch
neither. ``EXPECTED``: symbol_id -> (outcome, exit price, bars held, exit_reason start)."""

from __future__ import annotations

from tests.backtest.inputs import Case, flat

RULE_CASES = [
    # both levels inside one candle: the stop-loss is assumed first
    Case(1, "LONG", flat(3) + [(100, 103, 98.5, 100)] + flat(25)),
    Case(2, "LONG", flat(2) + [(97, 97.5, 96, 97)] + flat(25)),        # gap through SL
    Case(3, "LONG", flat(2) + [(104, 104.5, 103, 104)] + flat(25)),    # gap through TP
    Case(4, "LONG", flat(4) + [(100, 102.5, 99.8, 101)] + flat(25)),   # range reaches TP
    Case(5, "LONG", flat(3) + [(100, 100.4, 98.9, 99.2)] + flat(25)),  # range reaches SL
    Case(6, "LONG", flat(24) + [(100, 100.5, 99.5, 100.3)] + flat(5)),  # TIMEOUT
    Case(7, "SHORT", flat(3) + [(100, 103, 97, 100)] + flat(25)),      # both: SL first
    Case(8, "SHORT", flat(2) + [(102, 102.5, 101.5, 102)] + flat(25)),  # gap through SL
    Case(9, "SHORT", flat(2) + [(97, 97.5, 96.5, 97)] + flat(25)),     # gap through TP
    Case(10, "SHORT", flat(4) + [(100, 100.3, 97.5, 99)] + flat(25)),  # range reaches TP
    Case(11, "SHORT", flat(24) + [(100, 100.5, 99.5, 99.6)] + flat(2)),  # TIMEOUT
    Case(12, "LONG", flat(2) + [(99, 99.4, 98.8, 99)] + flat(25)),     # opens exactly at SL
    Case(13, "LONG", flat(2) + [(100, 102, 99.6, 101)] + flat(25)),    # high exactly at TP
    # a 2-hour outage between signal and entry: entry is the next candle of the series, and
    # the window counts candles, not hours
    Case(14, "LONG", flat(24) + [(100, 100.5, 99.5, 100.7)] + flat(2), skip_hours={1: 2}),
    Case(15, "LONG", flat(30), atr=None),                              # no ATR: not traded
    # levels from the entry open (101), not from the signal close (100); ATR 2: TP 105, SL 99
    Case(16, "LONG", flat(1) + flat(1, 101) + [(101, 105.2, 100.8, 104)] + flat(25, 101),
         atr=2.0),
]

EXPECTED = {
    1: ("LOSS", 99.0, 3, "both levels in one candle"),
    2: ("LOSS", 97.0, 2, "opened at or beyond the stop-loss"),
    3: ("WIN", 104.0, 2, "opened at or beyond the take-profit"),
    4: ("WIN", 102.0, 4, "take-profit reached"),
    5: ("LOSS", 99.0, 3, "stop-loss reached"),
    6: ("TIMEOUT", 100.3, 24, "window ended"),
    7: ("LOSS", 101.0, 3, "both levels in one candle"),
    8: ("LOSS", 102.0, 2, "opened at or beyond the stop-loss"),
    9: ("WIN", 97.0, 2, "opened at or beyond the take-profit"),
    10: ("WIN", 98.0, 4, "take-profit reached"),
    11: ("TIMEOUT", 99.6, 24, "window ended"),
    12: ("LOSS", 99.0, 2, "opened at or beyond the stop-loss"),
    13: ("WIN", 102.0, 2, "take-profit reached"),
    14: ("TIMEOUT", 100.7, 24, "window ended"),
    15: ("NO_ATR", None, None, "no ATR"),
    16: ("WIN", 105.0, 2, "take-profit reached"),
}

# PENDING cases as first written, and the same series after more candles arrive.
PENDING_CASES = [
    Case(21, "LONG", flat(11)),   # 10 window candles, no level: PENDING
    Case(22, "SHORT", flat(6)),   # 5 window candles, no level: PENDING
    Case(23, "LONG", flat(1)),    # the entry candle is not there yet: PENDING, no entry
]
PENDING_EXTENDED = [
    Case(21, "LONG", flat(25)),                                   # 24 quiet candles: TIMEOUT
    Case(22, "SHORT", flat(6) + [(100, 100.4, 97.9, 98.2)]),      # 6th candle hits TP: WIN
    Case(23, "LONG", flat(1) + [(100, 100.5, 98.5, 99)]),          # first candle hits SL
]
PENDING_FINAL = {
    21: ("TIMEOUT", 100.0, 24, "window ended"),
    22: ("WIN", 98.0, 6, "take-profit reached"),
    23: ("LOSS", 99.0, 1, "stop-loss reached"),
}
