"""spark.session: JDBC URL, partition sizing, the pyspark install check and the stage progress
line (the merge statement is tested through the indicator job's writer, tests/spark/test_indicators_io.py)."""

from __future__ import annotations

import pytest

from cryptoquant.config import Settings
from spark.session import _shuffle_partitions, check_pyspark_install, jdbc_url


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
