"""The indicator configuration: rows of the ``indicator_types`` seed turned into specs.

The same rows drive the Spark job (read from the warehouse table ``indicator_types``, which
``dbt build --select tag:base`` loads from the seed) and research mode (read from the CSV).
Each row names a TA-Lib function, its parameters and which output to keep; ``VWAP`` is ours.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptoquant.config import PROJECT_ROOT, Settings

SEED_CSV = PROJECT_ROOT / "dbt_project" / "seeds" / "indicator_types.csv"
CONFIG_TABLE = "indicator_types"

VWAP = "VWAP"
BBANDS_DERIVED = ("width", "percent_b")  # computed from TA-Lib's three bands
PERIOD_FIELDS = ("timeperiod", "fastperiod", "slowperiod", "signalperiod")

# Families that decide how many earlier candles an incremental run must recompute.
_EMA_LIKE = {"EMA", "DEMA", "TEMA", "T3", "TRIX"}
_WILDER = {"RSI", "ATR", "NATR", "PLUS_DI", "MINUS_DI", "PLUS_DM", "MINUS_DM", "DX"}
_DOUBLE_WILDER = {"ADX", "ADXR"}
_CUMULATIVE = {"OBV", "AD"}  # running sums from the series' first candle: seeded, not warmed up
# A recursive indicator restarted k candles earlier differs from the full-history value by
# (1 - alpha)^k times the seed difference; 1e-12 leaves a 1000x margin to the 1e-9 contract.
CONVERGENCE = 1e-12


class ConfigError(ValueError):
    """An indicator row is invalid (unknown function, output or parameter)."""


def _talib_info(name: str) -> dict:
    import talib.abstract

    try:
        return talib.abstract.Function(name).info
    except Exception as exc:  # talib raises a plain Exception for unknown names
        raise ConfigError(f"{name!r} is not a TA-Lib function (nor VWAP)") from exc


def _convergence_candles(alpha: float) -> int:
    return math.ceil(math.log(CONVERGENCE) / math.log(1.0 - alpha))


@dataclass(frozen=True)
class IndicatorSpec:
    """One output series: ``code`` = ``function(params)[output]``."""

    code: str
    ta_function: str
    output_name: str
    timeperiod: int | None = None
    fastperiod: int | None = None
    slowperiod: int | None = None
    signalperiod: int | None = None
    nbdev: float | None = None
    name: str = ""
    description: str = ""
    is_active: bool = True

    def __post_init__(self) -> None:
        self.validate()

    # ---- what to call -------------------------------------------------------------------
    @property
    def is_talib(self) -> bool:
        return self.ta_function != VWAP

    @property
    def is_cumulative(self) -> bool:
        return self.ta_function in _CUMULATIVE

    def talib_params(self) -> dict[str, float | int]:
        """Keyword arguments for the TA-Lib function."""
        if not self.is_talib:
            return {}
        accepted = self._info["parameters"]
        params: dict[str, float | int] = {}
        for name in PERIOD_FIELDS:
            value = getattr(self, name)
            if value is not None:
                params[name] = int(value)
        if self.nbdev is not None:
            params["nbdevup"] = params["nbdevdn"] = float(self.nbdev)
        if "matype" in accepted:
            params["matype"] = 0  # simple moving average (TA-Lib's default, made explicit)
        return params

    @property
    def call_key(self) -> tuple:
        """Specs with the same key share one TA-Lib call (MACD's three outputs, BBANDS' five)."""
        return (self.ta_function, tuple(sorted(self.talib_params().items())))

    @property
    def input_columns(self) -> list[str]:
        if not self.is_talib:
            return ["open_time", "high", "low", "close", "volume"]
        cols: list[str] = []
        for value in self._info["input_names"].values():
            cols.extend([value] if isinstance(value, str) else value)
        return cols

    @cached_property
    def _info(self) -> dict:
        return _talib_info(self.ta_function)

    @property
    def output_names(self) -> list[str]:
        """TA-Lib's names for the function's outputs, in the order it returns them."""
        return list(self._info["output_names"])

    # ---- how far back a value reaches ----------------------------------------------------
    @cached_property
    def lookback(self) -> int:
        """Candles before the first defined value (TA-Lib's lookback; VWAP: 0)."""
        if not self.is_talib:
            return 0
        import talib.abstract

        fn = talib.abstract.Function(self.ta_function)
        fn.set_parameters(self.talib_params())
        return int(fn.lookback)

    def window_candles(self, interval_seconds: int) -> int:
        """Transitions between candles that enter a value's nominal window (for gap flags):
        TA-Lib's lookback (at least 1: every value uses the previous close), or one UTC day
        for VWAP."""
        if not self.is_talib:
            return max(1, math.ceil(86_400 / interval_seconds) - 1)
        return max(1, self.lookback)

    def warmup_candles(self, interval_seconds: int) -> int:
        """Candles an incremental run recomputes before the first new one so that the new
        values equal a full recompute to ~1e-12 (relative to the seed difference).

        Windowed functions (SMA, BBANDS, ...) are exact once their window is full; recursive
        ones (EMA, Wilder smoothing in RSI/ATR/DI/ADX) forget their seed geometrically;
        cumulative ones (OBV) are seeded from the stored value instead; VWAP restarts each
        UTC day. ``None`` from an unknown TA-Lib family means: recompute the whole series.
        """
        fn = self.ta_function
        if not self.is_talib:
            return math.ceil(86_400 / interval_seconds) + 1
        if fn in _CUMULATIVE:
            return 2
        if fn in _EMA_LIKE or fn == "MACD":
            periods = [p for p in (self.timeperiod, self.slowperiod, self.signalperiod) if p]
            return self.lookback + 1 + sum(
                _convergence_candles(2.0 / (p + 1)) for p in periods)
        if fn in _WILDER:
            return self.lookback + 1 + _convergence_candles(1.0 / self.timeperiod)
        if fn in _DOUBLE_WILDER:
            return self.lookback + 1 + 2 * _convergence_candles(1.0 / self.timeperiod)
        if self._info.get("function_flags") and any(
            "Unstable" in f for f in self._info["function_flags"]
        ):
            raise ConfigError(
                f"{self.code}: no warm-up rule for recursive TA-Lib function {fn}; add it "
                "to spark/indicators/config.py"
            )
        return self.lookback + 1

    # ---- checks -----------------------------------------------------------------------------
    def validate(self) -> None:
        if not self.code or not self.code.replace("_", "").isalnum():
            raise ConfigError(f"indicator_code {self.code!r} must be letters, digits and _")
        if self.ta_function == VWAP:
            if self.output_name != "vwap":
                raise ConfigError(f"{self.code}: VWAP has the single output 'vwap'")
            return
        info = self._info
        outputs = list(info["output_names"])
        if self.ta_function == "BBANDS":
            outputs += list(BBANDS_DERIVED)
        if self.output_name not in outputs:
            raise ConfigError(
                f"{self.code}: {self.ta_function} has outputs {outputs}, not {self.output_name!r}")
        accepted = info["parameters"]
        for name in PERIOD_FIELDS:
            given = getattr(self, name) is not None
            if given and name not in accepted:
                raise ConfigError(f"{self.code}: {self.ta_function} takes no {name}")
            if not given and name in accepted:
                raise ConfigError(f"{self.code}: {self.ta_function} needs {name}")
            if given and int(getattr(self, name)) < 1:
                raise ConfigError(f"{self.code}: {name} must be at least 1")
        if self.nbdev is not None and "nbdevup" not in accepted:
            raise ConfigError(f"{self.code}: {self.ta_function} takes no nbdev")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or (
        isinstance(value, float) and math.isnan(value))


def spec_from_row(row: Mapping) -> IndicatorSpec:
    """An IndicatorSpec from a seed row (CSV strings or database values)."""

    def num(name, kind):
        value = row.get(name)
        if _blank(value):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{row.get('indicator_code')}: {name}={value!r} is not a number"
                              ) from None
        if kind is int and number != int(number):
            raise ConfigError(f"{row.get('indicator_code')}: {name}={value!r} is not whole")
        return kind(number)

    active = row.get("is_active")
    return IndicatorSpec(
        code=str(row["indicator_code"]).strip(),
        ta_function=str(row["ta_function"]).strip().upper(),
        output_name=str(row["output_name"]).strip(),
        timeperiod=num("timeperiod", int),
        fastperiod=num("fastperiod", int),
        slowperiod=num("slowperiod", int),
        signalperiod=num("signalperiod", int),
        nbdev=num("nbdev", float),
        name=str(row.get("indicator_name") or ""),
        description=str(row.get("description") or ""),
        is_active=True if _blank(active) else str(active).strip().lower() in {"1", "true"},
    )


def parse_config(rows: Iterable[Mapping], active_only: bool = True) -> list[IndicatorSpec]:
    specs = [spec_from_row(r) for r in rows]
    codes = [s.code for s in specs]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ConfigError(f"duplicate indicator codes: {duplicates}")
    specs = [s for s in specs if s.is_active or not active_only]
    if not specs:
        raise ConfigError("no active indicators in the configuration")
    return specs


def load_config_csv(path: str | Path = SEED_CSV, active_only: bool = True) -> list[IndicatorSpec]:
    """The configuration from the seed file (research mode)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return parse_config(csv.DictReader(fh), active_only)


def load_config_db(settings: Settings, active_only: bool = True) -> list[IndicatorSpec]:
    """The configuration from the warehouse table ``indicator_types`` (the dbt seed)."""
    import pymysql

    from cryptoquant import db

    try:
        with db.warehouse(settings, dict_rows=True) as conn, conn.cursor() as cur:
            cur.execute(f"select * from `{CONFIG_TABLE}`")
            rows = cur.fetchall()
    except pymysql.err.ProgrammingError as exc:
        raise ConfigError(
            f"{settings.mysql_warehouse_database}.{CONFIG_TABLE} is missing ({exc.args[-1]}); "
            "load the seed first: `cryptoquant dbt build --select tag:base`"
        ) from exc
    return parse_config(rows, active_only)


def warmup_candles(specs: Iterable[IndicatorSpec], interval_seconds: int) -> int:
    """Warm-up of a whole configuration: the longest of its indicators."""
    return max(s.warmup_candles(interval_seconds) for s in specs)


def config_fingerprint(specs: Iterable[IndicatorSpec]) -> str:
    """A short hash of what is computed: a change forces a full recompute of every series."""
    import hashlib

    text = "|".join(
        f"{s.code}:{s.ta_function}:{s.output_name}:{s.talib_params()}" for s in
        sorted(specs, key=lambda s: s.code))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
