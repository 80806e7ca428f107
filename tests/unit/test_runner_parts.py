"""Pure parts of the runtime: dead-letter records, cursors, batch decoding, settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.checkpoints import PostgresCheckpoints
from consumers.deadletter import DeadLetter
from consumers.kafka import KafkaReader, KafkaWriter
from consumers.runner import RunnerConfig
from events import InvalidEvent, encode
from events.codec import decode_many
from projections.cursor import Cursor, InvalidCursor
from projections.timeline.postgres import TimelineView
from tests.factories import make_event
from touchlog.bootstrap import projection_runner
from touchlog.settings import Settings


def test_dead_letter_round_trips_with_original_bytes() -> None:
    letter = DeadLetter.of(
        "timeline_v1",
        "touchlog.touchpoints",
        3,
        42,
        b"k",
        b"\x00\xff",
        "invalid event: (body): not valid JSON",
    )
    again = DeadLetter.from_json(letter.to_json())
    assert again == letter
    assert letter.kafka_key() == b"timeline_v1/touchlog.touchpoints/3/42"


def test_cursor_round_trips_and_rejects_garbage() -> None:
    cursor = Cursor(datetime(2026, 3, 1, 9, tzinfo=UTC), "crm", "m-1")
    assert Cursor.decode(cursor.encode()) == cursor
    for junk in ("not-a-cursor!", "", "YWJj"):
        with pytest.raises(InvalidCursor):
            Cursor.decode(junk)


def test_decode_many_keeps_positions_and_isolates_bad_records() -> None:
    good = [encode(make_event(message_id=f"m{i}")) for i in range(3)]
    batch = [good[0], b"{oops", good[1], None, b'{"a": 1}, {"b": 2}', good[2]]
    results = decode_many(batch)
    assert [r.message_id for r in results if not isinstance(r, InvalidEvent)] == ["m0", "m1", "m2"]
    assert [i for i, r in enumerate(results) if isinstance(r, InvalidEvent)] == [1, 3, 4]
    assert "empty record" in str(results[3])


def test_decode_many_fast_path_matches_single_decoding() -> None:
    events = [
        make_event(kind, message_id=f"m{i}")
        for i, kind in enumerate(["call.logged", "purchase.completed", "email.sent"])
    ]
    assert decode_many([encode(e) for e in events]) == events


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@/touchlog?host=/run/postgresql")
    monkeypatch.setenv("TOUCHLOG_PARTITIONS", "12")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.database_url == "postgresql://app@/touchlog?host=/run/postgresql"
    assert settings.partitions == 12
    assert settings.topic_touchpoints == "touchlog.touchpoints"


def test_settings_reject_a_non_postgres_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/db")
    with pytest.raises(ValueError, match="DATABASE_URL"):
        Settings()


@pytest.mark.parametrize("partitions", [None, range(6)], ids=["group", "partitions"])
def test_bootstrap_wires_a_runner_to_kafka_and_postgres(partitions: range | None) -> None:
    config = RunnerConfig("kafka:9092", "t", "t.dlq", "g", idempotence=True, partitions=partitions)
    pool: Any = object()  # not connected to until the runner runs
    runner = projection_runner(config, pool, TimelineView())
    assert isinstance(runner.store, PostgresCheckpoints)
    assert runner.store.pool is pool
    assert isinstance(runner.reader, KafkaReader)
    assert isinstance(runner.writer, KafkaWriter)
    assert runner.reader.group_id == (None if partitions is not None else "g")
    assert (runner.reader.client_id, runner.writer.client_id) == (
        "timeline_v1",
        "timeline_v1-deadletters",
    )
    assert runner.writer.idempotence is True
