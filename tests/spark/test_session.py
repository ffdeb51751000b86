"""spark.session: JDBC URL, partition sizing, and the staged upsert (idempotent, audit column
kept when nothing changed, staging table dropped)."""

from __future__ import annotations

import datetime as dt

import pytest

from cryptoquant import db
from cryptoquant.config import Settings
from spark.session import _shuffle_partitions, check_pyspark_install, jdbc_url, upsert_dataframe


def test_jdbc_url_uses_the_mysql_scheme():
    s = Settings(mysql_host="db.example", mysql_port=3306)
    assert jdbc_url(s, "cq_staging") == "jdbc:mysql://db.example:3306/cq_staging"


@pytest.mark.parametrize("master, expected", [
    ("local[2]", 4), ("local[1]", 2), ("local[8]", 16), ("spark://host:7077", 200)])
def test_shuffle_partitions(master, expected):
    assert _shuffle_partitions(master) == expected


def test_pyspark_python_matches_its_jars():
    check_pyspark_install()


@pytest.mark.spark
@pytest.mark.integration
def test_upsert_is_idempotent_and_keeps_audit_columns(settings, spark):
    with db.staging(settings, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("create table upsert_probe (k varchar(8), t datetime, v double, "
                    "computed_at datetime(3), primary key (k, t))")
    schema = "k string, t timestamp, v double, computed_at timestamp"
    t0, t1 = dt.datetime(2022, 1, 1, 0), dt.datetime(2022, 1, 1, 1)
    first = spark.createDataFrame([("a", t0, 1.0, dt.datetime(2026, 1, 1)),
                                   ("b", t1, 2.0, dt.datetime(2026, 1, 1))], schema)
    second = spark.createDataFrame([("a", t0, 1.0, dt.datetime(2026, 2, 1)),
                                    ("b", t1, 3.0, dt.datetime(2026, 2, 1))], schema)
    args = (settings, settings.mysql_staging_database, "upsert_probe", ["k", "t"])
    assert upsert_dataframe(first, *args, keep_if_unchanged=["computed_at"]) == 2
    assert upsert_dataframe(second, *args, keep_if_unchanged=["computed_at"]) == 2
    with db.staging(settings) as conn, conn.cursor() as cur:
        cur.execute("select k, t, v, computed_at from upsert_probe order by k")
        rows = cur.fetchall()
        cur.execute("show tables like '\\_stg\\_%'")
        leftovers = cur.fetchall()
    assert rows == (("a", t0, 1.0, dt.datetime(2026, 1, 1)),  # unchanged: audit kept, UTC kept
                    ("b", t1, 3.0, dt.datetime(2026, 2, 1)))
    assert leftovers == ()


@pytest.mark.spark
def test_stage_progress_reports_a_running_stage(spark, tmp_path):
    """While a stage runs, the reporter names it with its done/total task count."""
    import io
    import threading
    import time

    from spark.session import StageProgress

    release = tmp_path / "release"

    def wait_for_release(batches):
        import os
        import time as t

        while not os.path.exists(str(release)):
            t.sleep(0.05)
        yield from batches

    stream = io.StringIO()
    reporter = StageProgress(spark.sparkContext, "probe", every=0.1, stream=stream)
    reporter.start()
    job = threading.Thread(target=lambda: spark.range(0, 4, numPartitions=4)
                           .mapInPandas(wait_for_release, "id long").count())
    job.start()
    try:
        deadline = time.monotonic() + 60
        while "spark probe: stage" not in stream.getvalue():
            assert time.monotonic() < deadline, "no progress line while the stage ran"
            time.sleep(0.05)
    finally:
        release.touch()
        job.join(60)
    line = stream.getvalue().splitlines()[0]
    assert "/4 tasks" in line
    assert reporter.reports >= 1
