"""A database restart and a broker restart in the middle of a consumer run lose nothing and
double nothing. They run on a private stack (own directory and ports) so restarting its
servers cannot disturb the other tests. A consumer whose client stops fetching (as librdkafka
clients sometimes do after a broker restart) is re-created by the loop's stall watchdog."""

from __future__ import annotations

import os
import threading
import time

import pytest
from confluent_kafka import Consumer

from cryptoquant import db
from cryptoquant.stack import kafka, manager, mariadb
from loaders.consumer import ConsumeLoop
from loaders.sinks import KlineSink
from loaders.steps import replay_files
from tests.cryptoquant.stack.test_stack import free_port
from tests.loaders.conftest import count
from tests.support.sample import SAMPLE_KLINES

FILES = [SAMPLE_KLINES / "BTCUSDT-1h-2021-04-04_2023-12-30.csv.gz",
         SAMPLE_KLINES / "ETHUSDT-1h-2021-04-04_2023-12-30.csv.gz"]
EXPECTED = 23988 + 23989


@pytest.fixture(scope="module")
def private(base_settings, tmp_path_factory):
    stack_dir = tmp_path_factory.mktemp("restart-stack")
    libs = kafka.libs_dir(base_settings)
    (stack_dir / "kafka").mkdir()
    os.symlink(libs, stack_dir / "kafka" / libs.name)
    s = base_settings.replace(stack_dir=str(stack_dir), mysql_port=free_port(),
                              kafka_bootstrap_servers=f"127.0.0.1:{free_port(2)}")
    manager.up(s)
    yield s
    manager.down(s)


def _run_with_restart(settings, restart, topic_suffix: str, loop_class=ConsumeLoop) -> dict:
    s = settings.replace(kafka_topic_klines=f"restart.{topic_suffix}",
                         kafka_topic_dead_letter=f"restart.{topic_suffix}.dlq")
    with db.staging(s) as conn, conn.cursor() as cur:
        cur.execute("delete from raw_klines")
        conn.commit()
    replay_files(s, FILES, progress=False)
    loop = loop_class(s, KlineSink(s), s.kafka_topic_klines, f"g-{topic_suffix}",
                      batch_size=1000, progress=False, idle_seconds=5, stall_seconds=20)
    result = {}
    worker = threading.Thread(target=lambda: result.update(loop.run(until_idle=True)),
                              daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while count(s, "select count(*) from raw_klines") < 8000:
        assert worker.is_alive() and time.monotonic() < deadline
        time.sleep(0.1)
    landed_before = count(s, "select count(*) from raw_klines")
    restart(s)
    assert landed_before < EXPECTED, "the run had already finished: nothing was interrupted"
    worker.join(timeout=300)
    if worker.is_alive():
        loop.stop.set()  # do not leave a consumer running past the test
    assert not worker.is_alive(), "consumer did not finish after the restart"
    assert count(s, "select count(*) from raw_klines") == EXPECTED
    assert count(s, "select count(distinct symbol, open_time) from raw_klines") == EXPECTED
    result["loop"] = loop
    return result


def test_database_restart_during_a_run(private):
    def restart(s):
        assert mariadb.stop(s)
        assert mariadb.start(s)

    result = _run_with_restart(private, restart, "db")
    assert result["landed"] >= EXPECTED  # re-delivered batches are rewritten, not added


def test_broker_restart_during_a_run(private):
    def restart(s):
        assert kafka.stop(s)
        assert kafka.start(s)

    result = _run_with_restart(private, restart, "broker")
    assert result["landed"] >= EXPECTED - 8000


class _FetchStopsOnce(Consumer):
    """A real consumer that stops fetching after its first batch, the way librdkafka clients
    have been seen to after a broker restart: partitions assigned, lag growing, no messages."""

    def consume(self, *args, **kwargs):
        messages = super().consume(*args, **kwargs)
        if messages:
            self.pause(self.assignment())
        return messages


class _LoopWithOneStuckClient(ConsumeLoop):
    clients = 0

    def _consumer(self):
        self.clients += 1
        if self.clients > 1:
            return super()._consumer()
        return _FetchStopsOnce(self._consumer_config())


def test_a_stuck_consumer_is_recreated_and_the_run_completes(private):
    result = _run_with_restart(private, lambda s: None, "stuck", _LoopWithOneStuckClient)
    assert result["loop"].reconnects == 1
    assert result["landed"] >= EXPECTED
