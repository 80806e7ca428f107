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
        self._added_to: dict[Any, int] = {}  # per partition, the last offset added

    def add(self, batch: Mapping[Any, Sequence[Any]]) -> None:
        """Buffer records (per partition, in offset order); one already added is ignored,
        so the merge never holds, nor releases, two copies of one (partition, offset)."""
        for tp, records in batch.items():
            if not records:
                continue
            last = self._added_to.get(tp, -1)
            if records[0].offset <= last:
                records = [r for r in records if r.offset > last]
                if not records:
                    continue
            self._buffers.setdefault(tp, deque()).extend(records)
            self._added_to[tp] = records[-1].offset

    def reset(self) -> None:
        """Forget buffered records (after a seek they will be fetched again)."""
        self._buffers.clear()
        self._added_to.clear()

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
