"""The dead-letter place: a staging table (queryable, idempotent on the message's position)
and a Kafka topic (for replay tools), each entry with the raw payload and the reason."""

from __future__ import annotations

from dataclasses import dataclass

from cryptoquant.config import Settings
from loaders.producer import Publisher

INSERT_SQL = (
    "insert ignore into dead_letter (topic, kafka_partition, kafka_offset, message_key, "
    "raw_payload, reason) values (%s, %s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    payload: bytes | None
    reason: str

    def row(self) -> tuple:
        key = self.key.decode("utf-8", "replace")[:255] if self.key is not None else None
        return (self.topic, self.partition, self.offset, key, self.payload, self.reason[:1024])


def write_rows(cur, letters: list[DeadLetter]) -> None:
    if letters:
        cur.executemany(INSERT_SQL, [d.row() for d in letters])


def publish(publisher: Publisher, settings: Settings, letters: list[DeadLetter]) -> None:
    for d in letters:  # headers carry where it came from and why
        publisher.publish(
            settings.kafka_topic_dead_letter, d.key, d.payload,
            headers={"reason": d.reason.encode()[:1024], "source_topic": d.topic.encode(),
                     "source_partition": str(d.partition).encode(),
                     "source_offset": str(d.offset).encode()},
        )


def record_source_rejects(settings: Settings, origin: str, rejects: list) -> int:
    """Rows a producer could not even read (bad CSV lines): stored in the dead-letter table
    with topic ``file:<path>``, partition 0 and the line number as offset (idempotent)."""
    from cryptoquant import db

    letters = [DeadLetter(f"file:{r.path}"[:255], 0, r.line, None, r.raw.encode(), r.reason)
               for r in rejects]
    if letters:
        with db.staging(settings) as conn, conn.cursor() as cur:
            write_rows(cur, letters)
            conn.commit()
    return len(letters)
