"""The one configuration object of cryptoquant.

Every host, port, credential and path comes from here: environment variables named ``CQ_*``
with local defaults, optionally overridden by a ``.env`` file in the working directory.
The process environment wins over ``.env`` so CI and operators can override a checked-in file.
An unknown name in ``.env`` (or an unknown ``CQ_*`` variable) is an error rather than a
silently ignored typo.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting has an invalid value or an unknown name."""


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Settings with their defaults; the field name upper-cased with ``CQ_`` is the variable."""

    # MySQL / MariaDB
    mysql_host: str = _setting("127.0.0.1", "MySQL/MariaDB host.")
    mysql_port: int = _setting(3407, "MySQL/MariaDB port.")
    mysql_user: str = _setting("cryptoquant", "Application user (read/write).")
    mysql_password: str = _setting("cryptoquant", "Application user's password.")
    mysql_readonly_user: str = _setting("cq_reader", "Read-only user for the dashboard/API.")
    mysql_readonly_password: str = _setting("cq_reader", "Read-only user's password.")
    mysql_admin_user: str = _setting("root", "Admin user used by `stack up` to create databases.")
    mysql_admin_password: str = _setting("", "Admin user's password (empty for the local stack).")
    mysql_staging_database: str = _setting("cq_staging", "Landing tables (dbt sources).")
    mysql_warehouse_database: str = _setting("cq_warehouse", "dbt models (dimensions, facts).")
    mysql_managed: bool = _setting(True, "Start a private MariaDB with `stack up` (false: remote).")

    # Kafka
    kafka_bootstrap_servers: str = _setting("127.0.0.1:19092", "Kafka bootstrap servers.")
    kafka_managed: bool = _setting(True, "Start a private KRaft broker with `stack up`.")
    kafka_topic_klines: str = _setting("cq.klines.raw", "Topic for raw klines.")
    kafka_topic_news: str = _setting("cq.news.raw", "Topic for raw news articles.")
    kafka_topic_dead_letter: str = _setting("cq.dead-letter", "Topic for rejected messages.")
    kafka_partitions: int = _setting(3, "Partitions per topic created by `stack up`.")
    kafka_version: str = _setting("4.1.1", "Apache Kafka version fetched from Maven Central.")

    # Spark
    spark_master: str = _setting("local[2]", "Spark master URL (local[N], spark://..., yarn).")
    spark_driver_memory: str = _setting("4g", "Spark driver memory.")
    jdbc_driver_jar: str = _setting(
        "/usr/share/java/mariadb-java-client.jar", "MariaDB JDBC driver jar used by Spark."
    )

    # Exchange and news sources
    binance_api_url: str = _setting("https://api.binance.com/api", "Binance REST base URL.")
    binance_ws_url: str = _setting("wss://stream.binance.com:9443", "Binance WebSocket base URL.")
    news_feeds: str = _setting(
        "https://www.coindesk.com/arc/outboundfeeds/rss/,https://cointelegraph.com/rss,"
        "https://decrypt.co/feed",
        "Comma-separated RSS/Atom feed URLs.",
    )
    symbols: str = _setting("BTCUSDT,ETHUSDT,BNBUSDT", "Comma-separated symbols.")
    intervals: str = _setting("1h", "Comma-separated kline intervals.")

    # Paths and serving
    data_dir: str = _setting("data/sample", "Bundled/real input data (relative to the repo).")
    stack_dir: str = _setting(".stack", "Where the local stack keeps data, logs and PIDs.")
    dbt_venv: str = _setting(".venv-dbt", "Virtual environment holding dbt.")
    dbt_target: str = _setting("local", "dbt target in profiles.yml (local or prod).")
    api_host: str = _setting("127.0.0.1", "Dashboard/API bind address.")
    api_port: int = _setting(8050, "Dashboard/API port.")
    log_level: str = _setting("INFO", "Log level (DEBUG, INFO, WARNING, ERROR).")
    writer_lock_wait_seconds: int = _setting(
        3600, "How long a pipeline step or live round waits for another writer of the same "
              "warehouse to finish before failing.")

    # ---- derived values -------------------------------------------------------------------
    def path(self, value: str) -> Path:
        """Resolve a configured path relative to the repository root."""
        p = Path(value)
        return p if p.is_absolute() else PROJECT_ROOT / p

    @property
    def stack_path(self) -> Path:
        return self.path(self.stack_dir)

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    @property
    def symbol_list(self) -> list[str]:
        return [s.strip().upper() for s in self.symbols.split(",") if s.strip()]

    @property
    def interval_list(self) -> list[str]:
        return [s.strip() for s in self.intervals.split(",") if s.strip()]

    @property
    def news_feed_list(self) -> list[str]:
        return [s.strip() for s in self.news_feeds.split(",") if s.strip()]

    def as_env(self) -> dict[str, str]:
        """The settings as ``CQ_*`` variables, for child processes (dbt, Spark, Airflow)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[env_name(f.name)] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def env_name(field_name: str) -> str:
    return "CQ_" + field_name.upper()


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting: the README table is generated from it."""
    return [(env_name(f.name), str(f.default), f.metadata["help"]) for f in fields(Settings)]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, raw: str, kind: type, origin: str) -> Any:
    if kind is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{name}={raw!r} ({origin}): expected true or false")
    if kind is int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} ({origin}): expected a whole number") from None
        if name.endswith("_PORT") and not 0 < value < 65536:
            raise ConfigError(f"{name}={raw!r} ({origin}): a port must be between 1 and 65535")
        return value
    return raw


def load_settings(
    env: dict[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Build Settings from ``.env`` (if present) and the environment (which wins)."""
    env = dict(os.environ if env is None else env)
    known = {env_name(f.name): f for f in fields(Settings)}
    values: dict[str, tuple[str, str]] = {}

    if env_file is not None:
        path = Path(env_file)
        if not path.is_absolute() and not path.exists():
            path = PROJECT_ROOT / path
        if path.exists():
            for key, raw in dotenv_values(path).items():
                if key not in known:
                    raise ConfigError(
                        f"unknown setting {key!r} in {path}; known settings: "
                        + ", ".join(sorted(known))
                    )
                values[key] = (raw or "", str(path))

    for key, raw in env.items():
        if key in known:
            values[key] = (raw, "environment")
        elif key.startswith("CQ_") and key not in _IGNORED_ENV:
            raise ConfigError(f"unknown setting {key!r} in the environment")

    kwargs = {}
    for key, (raw, origin) in values.items():
        f = known[key]
        kind = type(f.default)
        kwargs[f.name] = _convert(key, raw, kind, origin)
    settings = Settings(**kwargs)
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"CQ_LOG_LEVEL={settings.log_level!r}: expected DEBUG/INFO/WARNING/ERROR")
    return settings


# CQ_* variables that are not settings but are read by specific tools (tests, benchmarks).
_IGNORED_ENV = {"CQ_TEST_KEEP_DATABASES"}

_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    global _cached
    if _cached is None:
        _cached = load_settings()
    return _cached
