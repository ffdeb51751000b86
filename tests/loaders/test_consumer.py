"""Kafka → staging through the real broker and database: exact landing, idempotent replays,
dead letters beside good messages, and a consumer killed mid-batch."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from cryptoquant.config import PROJECT_ROOT
from loaders.consumer import ConsumeLoop
from loaders.messages import encode_kline, kline_key
from loaders.producer import Publisher
from loaders.sinks import KlineSink
from loaders.steps import drain_klines, ingest_sample_klines, replay_files
from tests.loaders.conftest import count, rows
from tests.loaders.test_messages import CANDLE, MALFORMED
from tests.support.sample import SAMPLE_KLINES, SYMBOLS


def source_keys() -> set[tuple[str, str]]:
    keys = set()
    for path in SAMPLE_KLINES.glob("*.csv.gz"):
        symbol = path.name.split("-")[0]
        if "2021-04-04" in path.name:
            times = pd.read_csv(path, usecols=["date"])["date"]
        else:
            times = pd.to_datetime(pd.read_csv(path, usecols=["open_time"])["open_time"],
                                   unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S")
        keys |= {(symbol, t) for t in times}
    return keys


def landed_keys(settings) -> set[tuple[str, str]]:
    return {(s, t.strftime("%Y-%m-%d %H:%M:%S"))
            for s, t in rows(settings, "select symbol, open_time from raw_klines")}


def test_replay_of_all_bundled_symbols_lands_exactly_the_source_rows_twice(fresh, caplog):
    caplog.set_level(logging.WARNING, logger="loaders")
    first = ingest_sample_klines(fresh)
    # the drain subscribes before the first message: its topic exists already (no
    # "unknown topic" errors while the replay starts)
    assert not [r for r in caplog.records if "consumer error" in r.getMessage()]
    expected = source_keys()
    assert first["rejected_rows"] == 0
    assert landed_keys(fresh) == expected
    assert count(fresh, "select count(*) from dead_letter") == 0
    checksum = rows(fresh, "select sum(close), sum(volume), count(*) from raw_klines")

    second = ingest_sample_klines(fresh)  # the same files again
    assert second["landed"] == first["published"]
    assert count(fresh, "select count(*) from raw_klines") == len(expected)
    assert rows(fresh, "select sum(close), sum(volume), count(*) from raw_klines") == checksum
    assert {s for s, _ in expected} == set(SYMBOLS)


def test_malformed_messages_go_to_dead_letters_while_good_ones_land(fresh):
    topic = fresh.kafka_topic_klines
    good = []
    with Publisher(fresh) as pub:
        for i, (raw, _reason) in enumerate(MALFORMED):
            candle = dict(CANDLE, open_time_ms=CANDLE["open_time_ms"] + i * 3_600_000,
                          close_time_ms=CANDLE["close_time_ms"] + i * 3_600_000)
            good.append(candle["open_time_ms"])
            pub.publish(topic, kline_key("BTCUSDT", "1h"), encode_kline(candle, "replay"))
            pub.publish(topic, kline_key("BTCUSDT", "1h"), raw)
    summary = drain_klines(fresh, progress=False)
    assert summary["landed"] == len(MALFORMED)
    assert summary["dead_lettered"] == len(MALFORMED)
    assert count(fresh, "select count(*) from raw_klines") == len(good)
    letters = rows(fresh, "select raw_payload, reason, topic, kafka_partition, kafka_offset "
                          "from dead_letter order by kafka_offset")
    by_payload = {(bytes(p) if p is not None else None): r for p, r, *_ in letters}
    for raw, reason in MALFORMED:
        assert reason.split("(")[0] in by_payload[raw], (raw, by_payload.get(raw))
    assert {t for _, _, t, _, _ in letters} == {topic}
    # the same key always goes to one partition: good and bad interleave in one ordered log
    assert len({p for *_, p, _ in letters}) == 1


def _consumer_env(settings) -> dict:
    return {**os.environ, **settings.as_env(), "PYTHONUNBUFFERED": "1"}


def test_consumer_killed_mid_run_loses_and_doubles_nothing(fresh):
    # Two full files (the third symbol is covered by the exact-landing test above).
    files = [SAMPLE_KLINES / f"{s}-1h-2021-04-04_2023-12-30.csv.gz" for s in ("BTCUSDT", "ETHUSDT")]
    replay_files(fresh, files, progress=False)
    expected = {(s, t) for s, t in source_keys() if s in ("BTCUSDT", "ETHUSDT")}
    expected_count = 23988 + 23989
    assert len(expected) == expected_count
    cmd = [sys.executable, "-m", "cryptoquant.cli", "consume", "klines", "--until-idle",
           "--batch-size", "2000"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=_consumer_env(fresh),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count(fresh, "select count(*) from raw_klines") < 4000:
        assert proc.poll() is None, "consumer finished before it could be killed"
        assert time.monotonic() < deadline, "consumer made no progress"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = count(fresh, "select count(*) from raw_klines")
    assert 0 < partial < expected_count

    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=_consumer_env(fresh), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["landed"] > 0
    assert count(fresh, "select count(*) from raw_klines") == expected_count
    assert landed_keys(fresh) == expected


def test_sigterm_stops_cleanly_without_partial_batches(fresh):
    files = [SAMPLE_KLINES / "BTCUSDT-1h-2021-04-04_2023-12-30.csv.gz"]
    replay_files(fresh, files, progress=False)
    cmd = [sys.executable, "-m", "cryptoquant.cli", "consume", "klines", "--batch-size", "1000"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=_consumer_env(fresh),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while count(fresh, "select count(*) from raw_klines") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    summary = json.loads(out)
    assert summary["stopped_by_signal"] is True
    # every batch is all-or-nothing: rows landed are whole batches of 1000 (or the tail)
    landed = count(fresh, "select count(*) from raw_klines")
    assert landed == summary["landed"]


def test_one_batch_with_two_versions_of_a_candle_and_a_bad_message(fresh):
    topic, key = fresh.kafka_topic_klines, kline_key("BTCUSDT", "1h")
    with Publisher(fresh) as pub:
        pub.publish(topic, key, encode_kline(dict(CANDLE, close=16530.0), "replay"))
        pub.publish(topic, key, MALFORMED[0][0])
        pub.publish(topic, key, encode_kline(dict(CANDLE, close=16531.5), "backfill"))
    summary = drain_klines(fresh, progress=False, idle_seconds=0.5)
    assert (summary["batches"], summary["landed"], summary["dead_lettered"]) == (1, 2, 1)
    assert rows(fresh, "select close, source, kafka_offset from raw_klines") == [
        (pytest.approx(16531.5), "backfill", 2)]
    assert rows(fresh, "select kafka_offset, reason from dead_letter") == [(1, "not JSON: "
                                                                           "Expecting value: "
                                                                           "line 1 column 1 "
                                                                           "(char 0)")]


class RecordingPublisher:
    """Stands in for the Kafka producer: keeps what would be sent, in order."""

    failed = 0

    def __init__(self, *_args, **_kwargs):
        self.sent: list[tuple[str, bytes, bytes]] = []
        RecordingPublisher.last = self

    def publish(self, topic, key, value, headers=None):
        self.sent.append((topic, key, value))

    def publish_many(self, topic, keys, values):
        self.sent += [(topic, k, v) for k, v in zip(keys, values, strict=True)]

    def flush(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_replay_sends_what_publishing_the_csv_source_candle_by_candle_sends(
        tmp_path, make_settings, monkeypatch):
    """The column-wise replay against the generic loop over ``CsvReplay``: the same keys and
    message bytes in the same order, across clean chunks and a chunk read row by row, and the
    same rejected rows."""
    import loaders.steps as steps
    from loaders import messages
    from loaders.sources import CsvReplay, publish_candles

    settings = make_settings("rp")
    monkeypatch.setattr(messages, "utc_now_iso", lambda: "2024-05-06T07:08:09.123Z")
    path = tmp_path / "BTCUSDT-1h-x.csv"
    lines = [f"2022-01-0{1 + h // 24} {h % 24:02d}:00:00,10,11,9,10.5,{100 + h}"
             for h in range(120)]
    lines[70] = "2022-01-03 22:00:00,10,9,11,10.5,100"  # high < low: its chunk goes row by row
    path.write_text("date,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    files = [path, SAMPLE_KLINES / "BTCUSDT-1h-2023-03.csv.gz"]

    expected = RecordingPublisher()
    source = CsvReplay(files)
    publish_candles(settings, source, publisher=expected, progress=False)
    monkeypatch.setattr(steps, "Publisher", RecordingPublisher)
    recorded = []
    monkeypatch.setattr(steps, "record_source_rejects",
                        lambda _s, _origin, rejects: recorded.extend(rejects) or len(rejects))
    summary = steps.replay_files(settings, files, progress=False)
    assert RecordingPublisher.last.sent == expected.sent
    assert len(expected.sent) == 119 + 743 == summary["published"]
    assert summary["rejected"] == summary["dead_lettered_rows"] == 1
    assert [(e.line, e.reason) for e in recorded] == [
        (e.line, e.reason) for e in source.rejected()] == [(72, "high 9.0 is below low 11.0")]


class OffsetsOnly:
    """A consumer as far as ``_batch_wanted`` looks: positions and cached watermarks."""

    def __init__(self, partitions: dict[int, tuple[int, int, int]]):
        self.partitions = partitions  # partition: (position, low, high)

    def assignment(self):
        return [TopicPartition("t", p) for p in self.partitions]

    def position(self, tps):
        return [TopicPartition(tp.topic, tp.partition, self.partitions[tp.partition][0])
                for tp in tps]

    def get_watermark_offsets(self, tp, timeout=None, cached=False):
        assert cached, "a batch must not cost a broker round trip"
        return self.partitions[tp.partition][1:]


def test_a_backlog_tail_is_asked_for_by_its_size_so_consume_need_not_wait_out_the_timeout(
        make_settings):
    loop = ConsumeLoop(make_settings("bw"), None, "t", "g", batch_size=5000, progress=False)
    # the tail of a drain: 1,965 messages left over three partitions (one not consumed yet)
    assert loop._batch_wanted(OffsetsOnly({0: (24000, 0, 24500), 1: (23000, 0, 23465),
                                           2: (OFFSET_INVALID, 0, 1000)})) == 1965
    assert loop._batch_wanted(OffsetsOnly({0: (100, 0, 9000)})) == 5000  # a full batch waits
    # caught up, or nothing known yet: wait for a full batch as before (until batch_seconds)
    assert loop._batch_wanted(OffsetsOnly({0: (9000, 0, 9000)})) == 5000
    assert loop._batch_wanted(OffsetsOnly({0: (10, 0, 20), 1: (OFFSET_INVALID, -1, -1)})) == 5000
    assert loop._batch_wanted(OffsetsOnly({})) == 5000
    # a producer still running beside the loop: a full batch, however few are waiting now
    replaying = ConsumeLoop(make_settings("bw"), None, "t", "g", batch_size=5000,
                            progress=False, backlog_complete=threading.Event())
    assert replaying._batch_wanted(OffsetsOnly({0: (10, 0, 20)})) == 5000
    replaying.backlog_complete.set()
    assert replaying._batch_wanted(OffsetsOnly({0: (10, 0, 20)})) == 10


class FailingOnSecondBatch(KlineSink):
    """Lands the first batch, then the database "fails" for good."""

    writes = 0

    def write(self, cur, rows):
        self.writes += 1
        if self.writes == 2:
            raise RuntimeError("disk full")
        super().write(cur, rows)


def test_a_batch_that_fails_to_land_raises_and_its_offsets_stay_uncommitted(fresh):
    """Batches land on a thread beside the next batch's decoding: a failure still stops the
    loop, and only batches in the database have their offsets committed."""
    topic = fresh.kafka_topic_klines
    with Publisher(fresh) as pub:
        for hour in range(30):
            pub.publish(topic, kline_key("BTCUSDT", "1h"), encode_kline(
                dict(CANDLE, open_time_ms=CANDLE["open_time_ms"] + hour * 3_600_000,
                     close_time_ms=CANDLE["close_time_ms"] + hour * 3_600_000), "replay"))
    sink = FailingOnSecondBatch(fresh)
    loop = ConsumeLoop(fresh, sink, topic, "g-fail", batch_size=10, progress=False,
                       idle_seconds=0.5)
    with pytest.raises(RuntimeError, match="disk full"):
        loop.run(until_idle=True)
    assert count(fresh, "select count(*) from raw_klines") == 10 and loop.batches == 1
    check = Consumer({"bootstrap.servers": fresh.kafka_bootstrap_servers,
                      "group.id": "g-fail"})
    try:
        partitions = check.list_topics(topic, timeout=10).topics[topic].partitions
        committed = check.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    finally:
        check.close()
    assert sorted(tp.offset for tp in committed if tp.offset >= 0) == [10]


def test_a_batch_resumes_each_partition_after_its_last_message():
    class Msg:
        def __init__(self, partition, offset):
            self.p, self.o = partition, offset

        def topic(self):
            return "t"

        def partition(self):
            return self.p

        def offset(self):
            return self.o

    got = ConsumeLoop._next_offsets([Msg(0, 5), Msg(1, 7), Msg(0, 6), Msg(2, 0), Msg(1, 8)])
    assert sorted((tp.partition, tp.offset) for tp in got) == [(0, 7), (1, 9), (2, 1)]


class CountingIdleChecks(ConsumeLoop):
    idle_checks = 0  # broker checks that found the assigned partitions empty

    def _lag(self, consumer, cached=False):
        lag = super()._lag(consumer, cached)
        if not cached and lag == 0:
            self.idle_checks += 1
        return lag


def test_a_drain_beside_the_replay_waits_for_the_replay_before_it_idles_out(fresh):
    """With ``backlog_complete`` unset, a caught-up topic is not the end: the loop keeps
    checking well past ``idle_seconds``, then lands what arrives and stops once it is set."""
    def publish(hours):
        with Publisher(fresh) as pub:
            for hour in hours:
                pub.publish(fresh.kafka_topic_klines, kline_key("BTCUSDT", "1h"), encode_kline(
                    dict(CANDLE, open_time_ms=CANDLE["open_time_ms"] + hour * 3_600_000,
                         close_time_ms=CANDLE["close_time_ms"] + hour * 3_600_000), "replay"))

    publish([0])  # the replay's first message (it also creates the topic)
    replayed = threading.Event()
    loop = CountingIdleChecks(fresh, KlineSink(fresh), fresh.kafka_topic_klines, "g-beside",
                              batch_seconds=0.05, idle_seconds=0.1, progress=False,
                              backlog_complete=replayed)
    result = {}
    worker = threading.Thread(target=lambda: result.update(loop.run(until_idle=True)))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while loop.idle_checks < 10 and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        # 10 checks 50 ms apart found it empty: without the event it would have stopped
        assert loop.idle_checks >= 10 and worker.is_alive() and loop.landed == 1
        publish([1, 2])
    finally:
        replayed.set()
        worker.join(timeout=60)
    assert not worker.is_alive() and result["landed"] == 3
    assert count(fresh, "select count(*) from raw_klines") == 3
