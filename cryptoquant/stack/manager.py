"""Bring the whole local stack up, down, or report on it."""

from __future__ import annotations

import logging
import shutil
import subprocess

from cryptoquant import db
from cryptoquant.config import Settings
from cryptoquant.stack import kafka, mariadb
from cryptoquant.stack._proc import StackError

logger = logging.getLogger(__name__)


def up(settings: Settings) -> dict:
    """Start what is managed and not yet running, provision databases, create topics.
    Idempotent: a second call finds everything up and changes nothing."""
    started = {"mysql": False, "kafka": False}
    settings.stack_path.mkdir(parents=True, exist_ok=True)
    if settings.mysql_managed:
        started["mysql"] = mariadb.start(settings)
    try:
        db.provision(settings)
    except db.DatabaseUnavailable:
        raise
    except Exception as exc:  # admin rights missing on a remote server, typically
        if settings.mysql_managed:
            raise
        logger.warning("could not provision %s as %r (%s); assuming it was done by hand",
                       settings.mysql_host, settings.mysql_admin_user, exc)
    if settings.kafka_managed:
        started["kafka"] = kafka.start(settings)
    kafka.create_topics(settings)
    return started


def down(settings: Settings) -> dict:
    """Stop only what this stack started (by PID)."""
    return {"kafka": kafka.stop(settings), "mysql": mariadb.stop(settings)}


def spark_check() -> dict:
    """Spark runs in local mode inside jobs; check that Java and PySpark are there."""
    java = shutil.which("java")
    version = None
    if java:
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        version = out.splitlines()[0] if out else None
    try:
        import importlib.metadata as md

        pyspark_version = md.version("pyspark")
    except Exception:  # noqa: BLE001
        pyspark_version = None
    return {"java": version, "pyspark": pyspark_version,
            "running": bool(java and pyspark_version)}


def status(settings: Settings) -> dict:
    return {
        "stack_dir": str(settings.stack_path),
        "mysql": mariadb.status(settings),
        "kafka": kafka.status(settings),
        "spark": {**spark_check(), "master": settings.spark_master},
    }


__all__ = ["up", "down", "status", "StackError"]
