"""The consumer loop: Kafka → staging, at-least-once delivery plus idempotent writes.

Per batch (by size or time): decode every message, write the good rows and the dead letters
in ONE database transaction, commit it, publish the dead letters to their topic, and only then
commit the Kafka offsets synchronously. A crash anywhere re-delivers the batch, and the
upserts make the re-delivery change nothing. That landing runs on a second thread while the
loop consumes and decodes the next batch (Python's work beside MariaDB's): one batch in flight
at most, landed in order, its offsets (last + 1 per partition) committed after its database
commit, a failure raised in the loop before anything later is landed. SIGINT/SIGTERM finish the current batch and stop;
a batch is never half-committed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pymysql
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from cryptoquant import db
from cryptoquant.config import Settings
from loaders import dead_letter
from loaders.dead_letter import DeadLetter
from loaders.messages import BadMessage
from loaders.producer import Publisher
from loaders.progress import Progress

logger = logging.getLogger(__name__)

# Commit errors of a broker that is restarting or moving its group coordinator: retried.
TRANSIENT = {KafkaError._TRANSPORT, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
             KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
             KafkaError.REQUEST_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._WAIT_COORD}
REBALANCED = {KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
              KafkaError.REBALANCE_IN_PROGRESS, KafkaError._ASSIGNMENT_LOST}


class ConsumeLoop:
    def __init__(self, settings: Settings, sink, topic: str, group_id: str,
                 batch_size: int = 5000, batch_seconds: float = 1.0,
                 idle_seconds: float = 3.0, stop: threading.Event | None = None,
                 progress: bool = True, db_retry_seconds: float = 120.0,
                 stall_seconds: float = 60.0, backlog_complete: threading.Event | None = None):
        self.settings = settings
        self.sink = sink
        self.topic = topic
        self.group_id = group_id
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.idle_seconds = idle_seconds
        self.stop = stop or threading.Event()
        self.progress = Progress(f"consume {topic}", enabled=progress)
        self.db_retry_seconds = db_retry_seconds
        self.stall_seconds = stall_seconds
        # Set by a producer running beside the loop once everything is published: until then
        # neither the until-idle exit nor the short last batch applies.
        self.backlog_complete = backlog_complete
        self._conn = None  # the staging connection, kept across batches (see _write)
        self.reconnects = 0
        self.landed = 0
        self.dead = 0
        self.batches = 0
        self.lag: int | None = None

    def _consumer(self) -> Consumer:
        return Consumer(self._consumer_config())

    def _consumer_config(self) -> dict:
        return {
            "bootstrap.servers": self.settings.kafka_bootstrap_servers,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "max.poll.interval.ms": 600000,
            # A consumer that died (SIGKILL, crash) holds its partitions until its session
            # times out; 10 s (librdkafka's default is 45 s) lets a restarted one resume soon.
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 3000,
            "fetch.max.bytes": 52428800,
            "log_level": 3,
        }

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())

    def _lag(self, consumer: Consumer, cached: bool = False) -> int | None:
        """Messages not yet consumed on the assigned partitions, None before assignment.

        ``cached`` uses the high watermarks of the last fetch responses (free, good enough
        for progress while messages flow); the idle check asks the broker (a round trip per
        partition)."""
        assignment = consumer.assignment()
        if not assignment:
            return None
        total = 0
        try:
            for tp in consumer.position(assignment):
                low, high = consumer.get_watermark_offsets(tp, timeout=5, cached=cached)
                if low < 0 or high < 0:  # nothing cached yet for this partition
                    low, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                position = tp.offset if tp.offset != OFFSET_INVALID else None
                if position is None:
                    committed = consumer.committed([TopicPartition(tp.topic, tp.partition)],
                                                   timeout=5)[0].offset
                    position = committed if committed >= 0 else low
                total += max(high - position, 0)
        except KafkaException as exc:  # broker unreachable: lag unknown, certainly not idle
            logger.warning("cannot read offsets (%s)", exc)
            return -1
        return total

    @staticmethod
    def _next_offsets(messages: list) -> list[TopicPartition]:
        """Where each partition of a batch resumes: its last offset + 1 (what a commit of
        the consumer's positions would store for them right after consuming the batch)."""
        after = {(msg.topic(), msg.partition()): msg.offset() + 1 for msg in messages}
        return [TopicPartition(topic, partition, offset)
                for (topic, partition), offset in after.items()]

    def _land(self, consumer: Consumer, dlq: Publisher, rows: list[tuple],
              letters: list[DeadLetter], offsets: list[TopicPartition]) -> None:
        """A batch's database transaction, its dead letters' topic, then its offsets: run on
        the lander thread while the loop consumes and decodes the next batch (Python work
        beside MariaDB's), one batch at a time and in order."""
        self._write(rows, letters)
        if letters:
            dead_letter.publish(dlq, self.settings, letters)
            dlq.flush()
        self._commit(consumer, offsets)
        self.landed += len(rows)
        self.dead += len(letters)
        self.batches += 1

    @staticmethod
    def _landed(pending: Future | None) -> None:
        """Wait for the batch in flight; its failure is raised here, in the loop."""
        if pending is not None:
            pending.result()

    def _complete(self) -> bool:
        return self.backlog_complete is None or self.backlog_complete.is_set()

    def _decode(self, values: list[bytes | None]) -> list:
        """Each message's row, or the BadMessage refusing it: the sink's batch decoder when it
        has one (klines), else its decoder message by message."""
        if hasattr(self.sink, "decode_batch"):
            return self.sink.decode_batch(values)
        out = []
        for value in values:
            try:
                out.append(self.sink.decode(value))
            except BadMessage as exc:
                out.append(exc)
        return out

    def _batch_wanted(self, consumer: Consumer) -> int:
        """How many messages to wait for: ``batch_size``, or fewer when the last fetch
        responses say fewer are waiting. ``consume`` returns once it has that many or after
        ``batch_seconds``, so the last, partial batch of a backlog is taken as soon as it has
        arrived instead of after ``batch_seconds`` (0.2 s of a 1.5 s drain here). Only the
        batch boundaries move; local calls only (cached watermarks, positions)."""
        assignment = consumer.assignment()
        if not assignment or not self._complete():
            return self.batch_size
        waiting = 0
        for tp in consumer.position(assignment):
            low, high = consumer.get_watermark_offsets(tp, cached=True)
            if low < 0 or high < 0:  # no fetch response yet for this partition
                return self.batch_size
            # Nothing consumed from it yet: from its start, at most an over-estimate (the
            # committed offset is later), which only means waiting as before.
            waiting += max(high - (tp.offset if tp.offset >= 0 else low), 0)
            if waiting >= self.batch_size:
                return self.batch_size
        return waiting or self.batch_size

    def _write(self, rows: list[tuple], letters: list[DeadLetter]) -> None:
        """One transaction for the batch's rows and dead letters, on a connection kept open
        between batches (opening one per batch cost ~30 ms here); any failure closes it,
        rolling back the uncommitted batch, and the retry opens a new one."""
        deadline = time.monotonic() + self.db_retry_seconds
        delay = 0.5
        while True:
            try:
                if self._conn is None:
                    self._conn = db.connect(self.settings, self.settings.mysql_staging_database)
                with self._conn.cursor() as cur:
                    self.sink.write(cur, rows)
                    dead_letter.write_rows(cur, letters)
                self._conn.commit()
                return
            except Exception as exc:
                # pymysql can report a server lost mid-LOAD DATA LOCAL as an AttributeError
                # (it writes to the socket it has just dropped): a closed connection is a
                # connection failure whatever the exception says
                retryable = isinstance(exc, (db.DatabaseUnavailable, pymysql.err.OperationalError,
                                             pymysql.err.InterfaceError)) \
                    or (self._conn is not None and not self._conn.open)
                self._close_db()
                if not retryable or time.monotonic() > deadline or self.stop.is_set():
                    raise
                logger.warning("database write failed (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10)
            except BaseException:
                self._close_db()
                raise

    def _connect(self) -> None:
        """Open the staging connection ahead of the first batch; if it fails, the first
        batch's ``_write`` tries again (and retries, and reports)."""
        try:
            if self._conn is None:
                self._conn = db.connect(self.settings, self.settings.mysql_staging_database)
        except (db.DatabaseUnavailable, pymysql.err.Error) as exc:
            logger.debug("early database connection failed (%s)", exc)

    def _close_db(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.open:  # the server rolls back what was not committed
            conn.close()

    def _commit(self, consumer: Consumer, offsets: list[TopicPartition]) -> None:
        delay = 0.5
        for attempt in range(20):
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() == KafkaError._NO_OFFSET:
                    return
                if err.code() in REBALANCED:
                    # Partitions moved to another member before the commit: the batch is in
                    # the database already and whoever owns them now re-delivers it, which
                    # the idempotent upserts make harmless.
                    logger.warning("offset commit skipped after a rebalance (%s)", err)
                    return
                transient = err.retriable() or err.code() in TRANSIENT
                if attempt == 19 or not transient:
                    raise
                logger.warning("offset commit failed (%s); retrying", err)
                time.sleep(delay)
                delay = min(delay * 2, 5)

    def _progress_note(self) -> str:
        lag = "?" if self.lag is None or self.lag < 0 else f"{self.lag:,}"
        return f"(landed {self.landed:,}, dead-lettered {self.dead:,}, lag {lag})"

    def _subscribed(self) -> Consumer:
        consumer = self._consumer()
        consumer.subscribe([self.topic])
        return consumer

    def _stalled(self, lag: int | None, last_message_at: float) -> bool:
        """Partitions assigned, messages waiting (or offsets unreadable), yet nothing arrived
        for ``stall_seconds``. librdkafka consumers have been seen to stop fetching for good
        after a broker restart until they are re-created (librdkafka#5153); at most a batch
        already in the database is re-delivered, which the upserts make harmless."""
        return lag is not None and lag != 0 and \
            time.monotonic() - last_message_at > self.stall_seconds

    def _check_assignment(self, started: float, max_wait: float) -> None:
        if time.monotonic() - started > max_wait:
            raise TimeoutError(f"no partition of {self.topic!r} was assigned within "
                               f"{max_wait:.0f}s")

    def run(self, until_idle: bool = False, max_wait_for_assignment: float = 60.0) -> dict:
        self._install_signals()
        consumer = self._subscribed()
        dlq = Publisher(self.settings)
        started = lag_checked = last_message_at = time.monotonic()
        idle_since = pending = None
        consumed = False
        lander = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cq-land")
        lander.submit(self._connect)  # while the group is joined, not on the first batch
        try:
            while not self.stop.is_set():
                messages = consumer.consume(num_messages=self._batch_wanted(consumer),
                                            timeout=self.batch_seconds)
                good = messages
                if any([msg.error() for msg in messages]):
                    good = []
                    for msg in messages:
                        if msg.error():
                            if msg.error().fatal():
                                raise KafkaException(msg.error())
                            logger.warning("consumer error: %s", msg.error())
                            continue
                        good.append(msg)
                decoded = self._decode([m.value() for m in good])
                # Python's per-message work, in comprehensions (a batch is thousands).
                rows = [(row, msg.partition(), msg.offset())
                        for msg, row in zip(good, decoded, strict=True)
                        if not isinstance(row, BadMessage)]
                letters = [] if len(rows) == len(good) else [
                    DeadLetter(msg.topic(), msg.partition(), msg.offset(), msg.key(),
                               msg.value(), str(row))
                    for msg, row in zip(good, decoded, strict=True)
                    if isinstance(row, BadMessage)]
                if rows or letters:
                    consumed = True
                    last_message_at = time.monotonic()
                    if rows and hasattr(self.sink, "prepare"):  # here, beside the landing
                        rows = self.sink.prepare(rows)
                    offsets = self._next_offsets(good)
                    self._landed(pending)  # one batch in flight at most, landed in order
                    pending = lander.submit(self._land, consumer, dlq, rows, letters, offsets)
                    idle_since = None
                else:  # nothing new: the batch in flight lands before any idle or stall check
                    self._landed(pending)
                    pending = None
                    quiet = time.monotonic() - last_message_at
                    if until_idle and not self._complete() and not consumed \
                            and quiet <= self.stall_seconds:
                        # A producer beside the loop has not delivered its first message yet:
                        # neither the idle exit nor the stall check can apply, so no broker
                        # round trips for the lag (they held up the first batch 0.1-0.3 s).
                        idle_since = None
                        if not consumer.assignment():
                            self._check_assignment(started, max_wait_for_assignment)
                    elif until_idle or quiet > self.stall_seconds:
                        lag = self.lag = self._lag(consumer)
                        if self._stalled(lag, last_message_at):
                            logger.warning("no message for %.0fs although %s; re-creating the "
                                           "consumer", time.monotonic() - last_message_at,
                                           "offsets are unreadable" if lag < 0 else f"lag is {lag:,}")
                            consumer.close()
                            consumer = self._subscribed()
                            self.reconnects += 1
                            last_message_at = time.monotonic()
                            idle_since = None
                        elif not until_idle:
                            last_message_at = time.monotonic()  # caught up: quiet is normal
                        elif lag is None:
                            self._check_assignment(started, max_wait_for_assignment)
                        elif lag == 0 and self._complete():
                            idle_since = idle_since or time.monotonic()
                            if time.monotonic() - idle_since >= self.idle_seconds:
                                break
                        else:
                            idle_since = None
                if messages and time.monotonic() - lag_checked > 5:
                    lag_checked = time.monotonic()
                    self.lag = self._lag(consumer, cached=True)
                self.progress.update(self.landed + self.dead, self._progress_note())
            self._landed(pending)
        finally:
            lander.shutdown(wait=True)  # a batch in flight lands (or fails) before closing
            consumer.close()
            self._close_db()
            dlq.flush()
        self.progress.done(self.landed + self.dead, self._progress_note())
        return {"landed": self.landed, "dead_lettered": self.dead, "batches": self.batches,
                "rows_per_second": round(self.progress.rate(self.landed + self.dead)),
                "reconnects": self.reconnects,
                "stopped_by_signal": self.stop.is_set()}
