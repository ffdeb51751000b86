"""The stack comes up from nothing in a fresh directory on free ports, answers SQL and Kafka,
tolerates a second `up`, and `down` leaves none of its processes running.

It runs beside the shared test stack (different directory and ports) so it proves a cold
start without disturbing the other tests.
"""

from __future__ import annotations

import json
import os
import socket
import uuid

import pytest
from click.testing import CliRunner

from cryptoquant import db
from cryptoquant.cli import main
from cryptoquant.stack import kafka, manager, mariadb
from cryptoquant.stack._proc import StackError, pid_alive


def free_port(span: int = 1) -> int:
    """A port p such that p..p+span-1 are free now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if all(_free(port + i) for i in range(span)) and port + span < 65535:
            return port
    raise RuntimeError("no free port")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def cold_settings(base_settings, tmp_path_factory):
    stack_dir = tmp_path_factory.mktemp("stack")
    # Reuse the jars already fetched by the shared stack (same version): this test is about
    # starting from an empty data directory, not about Maven.
    libs = kafka.libs_dir(base_settings)
    target = stack_dir / "kafka" / libs.name
    target.parent.mkdir(parents=True)
    os.symlink(libs, target)
    s = base_settings.replace(
        stack_dir=str(stack_dir),
        mysql_port=free_port(),
        kafka_bootstrap_servers=f"127.0.0.1:{free_port(2)}",
    )
    yield s
    manager.down(s)


def test_up_from_nothing_answers_sql_and_kafka(cold_settings):
    started = manager.up(cold_settings)
    assert started == {"mysql": True, "kafka": True}

    with db.staging(cold_settings) as conn, conn.cursor() as cur:
        cur.execute("create table if not exists roundtrip (id int primary key, note varchar(20))")
        cur.execute("replace into roundtrip values (1, 'héllo ✓')")
        conn.commit()
        cur.execute("select note from roundtrip where id = 1")
        assert cur.fetchone() == ("héllo ✓",)
        cur.execute("select @@character_set_server")
        assert cur.fetchone() == ("utf8mb4",)

    from confluent_kafka import Consumer, Producer

    topic = f"roundtrip-{uuid.uuid4().hex[:6]}"
    kafka.create_topics(cold_settings, [topic])
    producer = Producer({"bootstrap.servers": cold_settings.kafka_bootstrap_servers})
    producer.produce(topic, key=b"BTCUSDT|1h", value=b'{"ping": 1}')
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": cold_settings.kafka_bootstrap_servers,
                         "group.id": "roundtrip", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        msg = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                break
        assert msg is not None and msg.value() == b'{"ping": 1}'
        assert msg.key() == b"BTCUSDT|1h"
    finally:
        consumer.close()


def test_read_only_user_can_read_but_not_write(cold_settings):
    with db.connection(cold_settings, cold_settings.mysql_staging_database,
                       role="readonly") as conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw_klines")
        assert cur.fetchone() == (0,)
        with pytest.raises(Exception, match="command denied"):
            cur.execute("delete from raw_klines")


def test_up_twice_is_harmless_and_status_reports_json(cold_settings):
    pids = (mariadb.status(cold_settings)["pid"], kafka.status(cold_settings)["pid"])
    assert manager.up(cold_settings) == {"mysql": False, "kafka": False}
    assert (mariadb.status(cold_settings)["pid"], kafka.status(cold_settings)["pid"]) == pids

    env = {k: v for k, v in cold_settings.as_env().items()}
    result = CliRunner().invoke(main, ["stack", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout[result.stdout.index("{"):])
    assert info["mysql"]["running"] is True
    assert info["mysql"]["port"] == cold_settings.mysql_port
    assert info["mysql"]["staging_database"] == cold_settings.mysql_staging_database
    assert info["kafka"]["running"] is True
    assert info["kafka"]["bootstrap_servers"] == cold_settings.kafka_bootstrap_servers


def test_taken_port_is_named(cold_settings, tmp_path):
    # Another stack directory on the port our running MariaDB already holds.
    clash = cold_settings.replace(stack_dir=str(tmp_path / "other"))
    with pytest.raises(StackError, match=f"port {cold_settings.mysql_port} .* already taken"):
        mariadb.start(clash)


def test_down_leaves_none_of_our_processes(cold_settings):
    pids = [mariadb.status(cold_settings)["pid"], kafka.status(cold_settings)["pid"]]
    assert all(pid_alive(p) for p in pids)
    assert manager.down(cold_settings) == {"kafka": True, "mysql": True}
    assert not any(pid_alive(p) for p in pids)
    assert manager.down(cold_settings) == {"kafka": False, "mysql": False}
    status = manager.status(cold_settings)
    assert status["mysql"]["running"] is False and status["kafka"]["running"] is False


def test_kafka_cluster_ids_never_start_with_a_dash(monkeypatch):
    """The storage tool parses `-t -abc...` as a missing id: ids starting with '-' are drawn
    again. The first uuid drawn here encodes to an id with a leading '-'."""
    dashed = uuid.UUID(bytes=b"\xfb" + bytes(15))  # base64 of 0xfb... starts with '-'
    drawn = iter([dashed, uuid.UUID(int=1)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(drawn))
    cluster_id = kafka.new_cluster_id()
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAQ"
    assert len(cluster_id) == 22 and not cluster_id.startswith("-")
