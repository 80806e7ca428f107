"""A deterministic order across partitions: (timestamp, partition, offset).

Kafka orders records only within a partition. A stage whose effect depends on the
order of events *across* partitions — identity resolution: which event created a
customer — must see the same interleaving every time it reads the same records,
or a batch replayed after a crash could decide differently. ``TimestampMerge``
releases a record only when no other assigned partition can still deliver an
earlier one: each holds a fetched record, or has been read to its high watermark.
"""

from __future__ import annotations

import heapq
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
        assigned = set(assigned)
        out: list[Any] = []
        buffers = self._buffers
        if any(not buffers.get(tp) and not caught_up(tp) for tp in assigned):
            return out  # that partition may still hold an earlier record
        # The head of each buffer, smallest first; ``n`` (buffer order) breaks ties.
        heads = [
            (b[0].timestamp, b[0].partition, b[0].offset, n, tp)
            for n, (tp, b) in enumerate(buffers.items())
            if b
        ]
        heapq.heapify(heads)
        while len(out) < limit and heads:
            *_, n, tp = heads[0]
            buffer = buffers[tp]
            out.append(buffer.popleft())
            if buffer:
                head = buffer[0]
                heapq.heapreplace(heads, (head.timestamp, head.partition, head.offset, n, tp))
                continue
            heapq.heappop(heads)
            if tp in assigned and not caught_up(tp):
                break  # that partition may still hold an earlier record
        return out
