"""Where each partition stands between the broker and a batch: the gate records pass.

aiokafka starts fetching as soon as a group assignment is set, *before* it awaits the
rebalance listener that seeks to the offsets stored with the view (DESIGN.md, pitfall
7), and a retry or a rebalance seeks again while records are buffered. So a record
may leave ``getmany`` before its partition's position is settled, or twice. Only
records of *settled* partitions, at or past the position their partition has been
fetched to, pass; each batch carries the offset each of its partitions starts from,
so the commit can check that nothing between the stored offset and the batch was
skipped (``Positions.release``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar


class _Record(Protocol):
    partition: int
    offset: int


R = TypeVar("R", bound=_Record)


class Positions:
    """Settled partitions of one topic: next offset fetched, next offset released."""

    def __init__(self) -> None:
        self._fetched: dict[int, int] = {}
        self._released: dict[int, int] = {}

    def unsettle(self) -> None:
        """Forget every position: nothing passes until the partitions are settled again."""
        self._fetched.clear()
        self._released.clear()

    def settle(self, partition: int, offset: int) -> None:
        """The consumer has been positioned at ``offset`` (the stored next offset)."""
        self._fetched[partition] = self._released[partition] = offset

    def settled(self, partition: int) -> bool:
        return partition in self._fetched

    def unsettled(self, partitions: Iterable[int]) -> set[int]:
        return {p for p in partitions if p not in self._fetched}

    def fetched_to(self, partition: int) -> int | None:
        return self._fetched.get(partition)

    def accept(self, batch: Mapping[Any, Sequence[R]]) -> dict[Any, list[R]]:
        """What may go on of a ``getmany`` result (tp → records in offset order): records of
        settled partitions at or past their fetch position. Everything else was fetched
        before a seek and will be fetched again from the settled position."""
        accepted: dict[Any, list[R]] = {}
        for tp, records in batch.items():
            if not records:
                continue
            start = self._fetched.get(records[0].partition)
            if start is None:
                continue
            fresh = list(records)
            if fresh[0].offset < start:
                fresh = fresh[bisect.bisect_left(fresh, start, key=lambda r: r.offset) :]
            if fresh:
                accepted[tp] = fresh
                self._fetched[records[0].partition] = fresh[-1].offset + 1
        return accepted

    def release(self, records: Iterable[_Record]) -> dict[int, int]:
        """``records`` go into a batch: returns, per partition, the offset the batch starts
        from (every record of that partition before it has been released before)."""
        starts: dict[int, int] = {}
        released = self._released
        for r in records:
            p = r.partition
            if p not in starts:
                starts[p] = released[p]
            released[p] = r.offset + 1
        return starts
