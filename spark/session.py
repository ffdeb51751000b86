"""One Spark session per job, and the JDBC plumbing every Spark job shares.

* ``get_spark(settings, app_name)``: the job's SparkSession (master, driver memory, JDBC jar and
  UTC everywhere from Settings; ``getOrCreate``, so a test session or an outer job is reused).
* ``jdbc_url(settings, database)`` / ``jdbc_options``: ``jdbc:mysql://`` with MariaDB's driver
  class (a ``jdbc:mariadb://`` URL has no Spark dialect and quotes names with ``"``).
* ``StageProgress``: a line on stderr for each long-running Spark stage (tasks done/total), the
  job's progress bar; Spark's own console bar is off because it floods non-terminal logs.
* ``read_table(spark, settings, database, table_or_query)``: a table name or a SELECT.
* ``merge_sql``: Spark's JDBC writer has no upsert, so a job's tasks fill a staging table
  themselves (the indicator job) and this one ``INSERT ... ON DUPLICATE KEY UPDATE``, run from
  the driver, makes the rows visible at once.

Times: DATETIME columns are naive UTC, so the JVM and the Spark session run in UTC; a naive
timestamp inside a Python worker (``mapInArrow``, pandas UDFs) is then UTC too.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cryptoquant.config import Settings

logger = logging.getLogger(__name__)

_LOCAL_CORES = re.compile(r"^local\[(\d+|\*)(?:,\d+)?\]$")


def _shuffle_partitions(master: str) -> int:
    """Two shuffle partitions per core in local mode (Spark's default of 200 is all overhead)."""
    m = _LOCAL_CORES.match(master.strip())
    if m is None:
        return 200 if not master.startswith("local") else 2
    cores = (os.cpu_count() or 2) if m.group(1) == "*" else int(m.group(1))
    return max(2, 2 * cores)


def check_pyspark_install() -> None:
    """Fail clearly when PySpark's Python files and its jars come from different versions.

    ``pyspark-client`` (pulled in by the Airflow Spark provider) ships the same ``pyspark``
    Python package without jars; installed after ``pyspark`` it overwrites the Python side,
    and every pandas UDF then dies with a Py4J "Constructor ... does not exist" error.
    """
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    if os.environ.get("SPARK_HOME") or not jars.is_dir():
        return
    cores = [p.name for p in jars.glob("spark-core_*.jar")]
    if cores and not any(name.endswith(f"-{pyspark.__version__}.jar") for name in cores):
        raise RuntimeError(
            f"PySpark's Python files are {pyspark.__version__} but its jars are {cores[0]}: "
            "reinstall the Python side, e.g. `pip install --no-deps --force-reinstall "
            "pyspark==<jar version>` (pyspark-client overwrote it)")


def get_spark(settings: Settings, app_name: str = "cryptoquant"):
    """The SparkSession for a job (created once; ``getOrCreate`` reuses a running one)."""
    check_pyspark_install()
    # py4j logs every gateway connection it closes at INFO, also from __del__ at interpreter
    # exit, when the log stream may be closed already ("--- Logging error ---").
    logging.getLogger("py4j").setLevel(logging.WARNING)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    partitions = str(_shuffle_partitions(settings.spark_master))
    utc = "-Duser.timezone=UTC"
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.jars", settings.jdbc_driver_jar)
        .config("spark.driver.extraClassPath", settings.jdbc_driver_jar)
        .config("spark.driver.extraJavaOptions", utc)
        .config("spark.executor.extraJavaOptions", utc)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", partitions)
        .config("spark.default.parallelism", partitions)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    StageProgress.attach(spark.sparkContext, app_name)
    return spark


class StageProgress(threading.Thread):
    """Reports the running Spark stages (tasks done/total, elapsed) every ``every`` seconds
    while a stage runs longer than that: on a terminal one line rewritten in place, elsewhere
    (Airflow task logs, CI) a plain line per report. Ends when the SparkContext stops."""

    _attached: dict[int, StageProgress] = {}

    def __init__(self, sc, label: str, every: float = 5.0, stream=None):
        super().__init__(name=f"spark-progress-{label}", daemon=True)
        self.sc, self.label, self.every = sc, label, every
        self.stream = stream if stream is not None else sys.stderr
        self.reports = 0

    @classmethod
    def attach(cls, sc, label: str) -> StageProgress:
        reporter = cls._attached.get(id(sc))
        if reporter is None or not reporter.is_alive():
            reporter = cls._attached[id(sc)] = cls(sc, label)
            reporter.start()
        return reporter

    def snapshot(self) -> list[str]:
        """One "stage N (name): done/total tasks" entry per active stage."""
        tracker = self.sc.statusTracker()
        parts = []
        for stage_id in sorted(tracker.getActiveStageIds()):
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                name = info.name.split(" at ")[0]
                parts.append(f"stage {stage_id} ({name}): "
                             f"{info.numCompletedTasks}/{info.numTasks} tasks")
        return parts

    def run(self) -> None:
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        busy_since = None
        while self.sc._jsc is not None:
            time.sleep(self.every)
            try:
                parts = self.snapshot()
            except Exception:  # noqa: BLE001 - the context is stopping under us
                return
            if not parts:
                if busy_since is not None and tty:
                    print(file=self.stream, flush=True)
                busy_since = None
                continue
            busy_since = busy_since or time.monotonic() - self.every
            line = (f"spark {self.label}: {'; '.join(parts)} "
                    f"[{time.monotonic() - busy_since:.0f}s]")
            print(f"\r{line}   " if tty else line, end="" if tty else "\n",
                  file=self.stream, flush=True)
            self.reports += 1


def jdbc_url(settings: Settings, database: str) -> str:
    return f"jdbc:mysql://{settings.mysql_host}:{settings.mysql_port}/{database}"


def jdbc_options(settings: Settings, database: str) -> dict[str, str]:
    """Options for ``spark.read/write.format("jdbc")`` as the application user."""
    return {
        "url": jdbc_url(settings, database),
        "driver": "org.mariadb.jdbc.Driver",
        "user": settings.mysql_user,
        "password": settings.mysql_password,
        "sessionTimeZone": "UTC",
    }


def read_table(spark, settings: Settings, database: str, table_or_query: str):
    """A table (``name``) or a query (``select ...``) of ``database`` as a Spark DataFrame."""
    reader = spark.read.format("jdbc").options(**jdbc_options(settings, database))
    text = table_or_query.strip()
    if re.match(r"(?is)^(select|with)\b", text):
        reader = reader.option("query", text)
    else:
        reader = reader.option("dbtable", text)
    return reader.option("fetchsize", "10000").load()


def _quote(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_$]+", name):
        raise ValueError(f"unsafe SQL identifier {name!r}")
    return f"`{name}`"


def merge_sql(target_table: str, staging_table: str, columns: Sequence[str],
              key_columns: Sequence[str], keep_if_unchanged: Sequence[str] = ()) -> str:
    """The one statement that moves a staging table's rows into ``target_table`` (same
    database; a primary or unique key on ``key_columns``): new keys inserted, existing ones
    updated. Columns in ``keep_if_unchanged`` (audit columns such as ``computed_at``) keep
    their stored value when every other non-key column is unchanged (null-safe), so re-writing
    identical rows is a no-op; only ``columns`` are written, others keep their values."""
    columns = list(columns)
    cols = ", ".join(_quote(c) for c in columns)
    audit = [c for c in keep_if_unchanged if c in columns]
    values = [c for c in columns if c not in key_columns and c not in audit]
    t = _quote(target_table)
    same = " and ".join(f"{t}.{_quote(c)} <=> values({_quote(c)})" for c in values)
    # MySQL/MariaDB apply assignments left to right: the audit columns are set first, while
    # the value columns still hold the stored values.
    assignments = [
        f"{t}.{_quote(c)} = if({same or '1'}, {t}.{_quote(c)}, values({_quote(c)}))"
        for c in audit
    ] + [f"{t}.{_quote(c)} = values({_quote(c)})" for c in values]
    if not assignments:
        k = _quote(key_columns[0])
        assignments = [f"{t}.{k} = {t}.{k}"]
    return (f"insert into {t} ({cols}) select {cols} from {_quote(staging_table)} "
            "on duplicate key update " + ", ".join(assignments))
