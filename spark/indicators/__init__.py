"""Technical indicators: configuration (``config``), arithmetic for one series (``compute``),
the Spark job (``job``) and research mode on a CSV file (``research``).

Importing this package does not import PySpark; ``job`` does, when it runs.
"""

from spark.indicators.compute import (
    SeriesError,
    compute_indicators,
    gap_flags,
    gap_starts,
    vwap_daily,
)
from spark.indicators.config import (
    ConfigError,
    IndicatorSpec,
    load_config_csv,
    load_config_db,
    parse_config,
    warmup_candles,
)

__all__ = [
    "ConfigError",
    "IndicatorSpec",
    "SeriesError",
    "compute_indicators",
    "gap_flags",
    "gap_starts",
    "load_config_csv",
    "load_config_db",
    "parse_config",
    "vwap_daily",
    "warmup_candles",
]
