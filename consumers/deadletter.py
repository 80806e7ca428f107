"""Dead letters: records a consumer could not apply, kept with the reason."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    failed_at: datetime
    id: int | None = None
    """Its row's identity in ``dead_letters`` once stored (``touchlog deadletter show ID``)."""

    @classmethod
    def of(
        cls,
        consumer: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: str,
    ) -> DeadLetter:
        return cls(consumer, topic, partition, offset, key, value, reason, datetime.now(UTC))

    def kafka_key(self) -> bytes:
        """Stable per source record, so a replayed dead letter is recognisably the same."""
        return f"{self.consumer}/{self.topic}/{self.partition}/{self.offset}".encode()

    def to_json(self) -> bytes:
        def b64(data: bytes | None) -> str | None:
            return base64.b64encode(data).decode() if data is not None else None

        return json.dumps(
            {
                "consumer": self.consumer,
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "key_b64": b64(self.key),
                "value_b64": b64(self.value),
                "reason": self.reason,
                "failed_at": self.failed_at.isoformat(),
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> DeadLetter:
        data = json.loads(raw)

        def unb64(text: str | None) -> bytes | None:
            return base64.b64decode(text) if text is not None else None

        return cls(
            consumer=data["consumer"],
            topic=data["topic"],
            partition=data["partition"],
            offset=data["offset"],
            key=unb64(data["key_b64"]),
            value=unb64(data["value_b64"]),
            reason=data["reason"],
            failed_at=datetime.fromisoformat(data["failed_at"]),
        )
