"""A deterministic order across partitions: (timestamp, partition, offset).

Kafka orders records only within a partition. A stage whose effect depends on the
order of events *across* partitions — identity resolution: which event created a
customer — must see the same interleaving every time it reads the same records,
or a batch replayed after a crash could decide differently. ``TimestampMerge``
releases a record only when no other assigned partition can still deliver an
earlier one: each holds a fetched record, or has been read to its high watermark.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol


class _Record(Protocol):
    timestamp: int
    partition: int
    offset: int


class TimestampMerge:
    def __init__(self) -> None:
        self._buffers: dict[Any, deque[Any]] = {}

    def add(self, batch: Mapping[Any, Sequence[Any]]) -> None:
        for tp, records in batch.items():
            self._buffers.setdefault(tp, deque()).extend(records)

    def reset(self) -> None:
        """Forget buffered records (after a seek they will be fetched again)."""
        self._buffers.clear()

    def buffered(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    def release(
        self, assigned: Iterable[Any], caught_up: Callable[[Any], bool], limit: int
    ) -> list[Any]:
        """Pop up to ``limit`` records in (timestamp, partition, offset) order."""
        assigned = list(assigned)
        out: list[Any] = []
        while len(out) < limit:
            if any(not self._buffers.get(tp) and not caught_up(tp) for tp in assigned):
                break  # that partition may still hold an earlier record
            heads = [
                (b[0].timestamp, b[0].partition, b[0].offset, tp)
                for tp, b in self._buffers.items()
                if b
            ]
            if not heads:
                break
            *_, tp = min(heads, key=lambda h: h[:3])
            out.append(self._buffers[tp].popleft())
        return out
