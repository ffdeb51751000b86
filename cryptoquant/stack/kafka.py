"""A single-node Apache Kafka broker in KRaft mode under .stack/kafka.

Its jars come from Maven Central (kafka-pom.xml beside this file) on first use; the broker
runs as one JVM that is both controller and broker, its data under .stack/kafka/data.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from pathlib import Path

from cryptoquant.config import Settings
from cryptoquant.stack._proc import (
    StackError,
    pid_alive,
    port_open,
    read_pid,
    spawn,
    stop_pid,
    wait_until,
)

logger = logging.getLogger(__name__)

POM = Path(__file__).with_name("kafka-pom.xml")
LOG4J2 = Path(__file__).with_name("kafka-log4j2.properties")


def new_cluster_id() -> str:
    """A random KRaft cluster id (22 characters of URL-safe base64), never starting with '-':
    the storage tool's argument parser would read such an id as an option (about 1 format in
    64 failed with "argument --cluster-id/-t: expected one argument"; Kafka's own
    random-uuid skips those ids the same way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _dir(settings: Settings) -> Path:
    return settings.stack_path / "kafka"


def _pid_file(settings: Settings) -> Path:
    return _dir(settings) / "kafka.pid"


def _log_file(settings: Settings) -> Path:
    return _dir(settings) / "logs" / "server.log"


def _host_port(settings: Settings) -> tuple[str, int]:
    first = settings.kafka_bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise StackError(
            f"CQ_KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers!r}: expected HOST:PORT"
        ) from None


def libs_dir(settings: Settings) -> Path:
    return _dir(settings) / f"libs-{settings.kafka_version}"


def ensure_libs(settings: Settings) -> Path:
    """Fetch the broker's jars with Maven once per Kafka version."""
    libs = libs_dir(settings)
    stamp = libs / ".complete"
    if stamp.exists():
        return libs
    if not shutil.which("mvn"):
        raise StackError("Maven (`mvn`) is needed once to fetch Kafka's jars: apt-get install maven")
    if not shutil.which("java"):
        raise StackError("Java 17+ is needed to run Kafka and Spark: apt-get install openjdk-17-jre")
    logger.info("fetching Apache Kafka %s jars from Maven Central", settings.kafka_version)
    libs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-Dkafka.version={settings.kafka_version}", f"-DoutputDirectory={libs}",
         "-DincludeScope=runtime"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise StackError(f"fetching Kafka jars failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    stamp.touch()
    return libs


def _write_config(settings: Settings) -> Path:
    host, port = _host_port(settings)
    base = _dir(settings)
    props = base / "server.properties"
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{port + 1}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{port + 1}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(base / "data"),
        "num.partitions": str(settings.kafka_partitions),
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
    }
    props.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return props


def _java_cmd(settings: Settings, main_class: str, *args: str) -> list[str]:
    return [
        "java", "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J2}", f"-Dkafka.logs.dir={_dir(settings) / 'logs'}",
        "-cp", f"{libs_dir(settings)}/*", main_class, *args,
    ]


def is_running(settings: Settings) -> bool:
    return pid_alive(read_pid(_pid_file(settings)), str(_dir(settings) / "server.properties"))


def _admin(settings: Settings):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers,
                        "socket.timeout.ms": 3000, "log_level": 0})


def _answers(settings: Settings) -> bool:
    if not port_open(*_host_port(settings)):
        return False
    try:
        _admin(settings).list_topics(timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any client error means "not ready yet"
        return False


def start(settings: Settings) -> bool:
    if is_running(settings):
        return False
    host, port = _host_port(settings)
    for p in (port, port + 1):
        if port_open(host, p):
            raise StackError(
                f"port {p} on {host} is already taken by another process (not this stack's "
                "Kafka). Free it, or choose another with CQ_KAFKA_BOOTSTRAP_SERVERS (the "
                "controller uses the next port), or use that cluster with CQ_KAFKA_MANAGED=false."
            )
    ensure_libs(settings)
    props = _write_config(settings)
    data = _dir(settings) / "data"
    if not (data / "meta.properties").exists():
        cluster_id = new_cluster_id()
        proc = subprocess.run(
            _java_cmd(settings, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                      "-c", str(props)),
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {proc.stdout}{proc.stderr}")
    pid = spawn(_java_cmd(settings, "kafka.Kafka", str(props)), _dir(settings) / "kafka.stdout",
                _pid_file(settings))
    wait_until(lambda: _answers(settings), 90, "Kafka", alive=lambda: pid_alive(pid),
               log_file=_dir(settings) / "kafka.stdout")
    logger.info("Kafka up on %s", settings.kafka_bootstrap_servers)
    return True


def create_topics(settings: Settings, topics: list[str] | None = None) -> list[str]:
    """Create the project's topics if missing (idempotent); returns the ones created."""
    from confluent_kafka.admin import NewTopic

    topics = topics or [settings.kafka_topic_klines, settings.kafka_topic_news,
                        settings.kafka_topic_dead_letter]
    admin = _admin(settings)
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=settings.kafka_partitions, replication_factor=1)
         for t in missing]
    )
    created = []
    for topic, fut in futures.items():
        try:
            fut.result()
            created.append(topic)
        except Exception as exc:  # noqa: BLE001
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StackError(f"creating topic {topic!r} failed: {exc}") from exc
    return created


def stop(settings: Settings) -> bool:
    return stop_pid(_pid_file(settings), str(_dir(settings) / "server.properties"), timeout=60)


def status(settings: Settings) -> dict:
    return {
        "managed": settings.kafka_managed,
        "running": is_running(settings) if settings.kafka_managed else _answers(settings),
        "reachable": _answers(settings),
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "topics": {
            "klines": settings.kafka_topic_klines,
            "news": settings.kafka_topic_news,
            "dead_letter": settings.kafka_topic_dead_letter,
        },
        "pid": read_pid(_pid_file(settings)) if settings.kafka_managed else None,
        "log": str(_log_file(settings)),
    }
