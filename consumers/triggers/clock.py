"""Time for the trigger rules, and which customers have a timer due.

The worker's clock is the wall clock, or — with ``manual`` time, for scenario
tests and replays — the latest ``tick`` command read from the command topic,
so that a test moves time forward by publishing a message, never by waiting.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime


class Clock:
    def __init__(self, *, manual: bool = False) -> None:
        self.manual = manual
        self._ticked: datetime | None = None

    def tick(self, now: datetime) -> None:
        if self._ticked is None or now > self._ticked:
            self._ticked = now

    def now(self, fallback: datetime) -> datetime:
        """The current time; ``fallback`` (an event's time) when manual time has not started."""
        if not self.manual:
            return datetime.now(UTC)
        return self._ticked or fallback


COMPACT_SLACK = 1024
"""Stale heap entries a partition may hold beyond its live ones before it is rebuilt."""


class DueIndex:
    """Per partition, customers by their next timer (a heap with lazy deletion).

    A customer whose timer moves leaves its old entry behind until that time comes — for a
    timer moved months ahead, months. A partition's heap is rebuilt from the live timers
    once its entries outnumber twice the live ones (plus ``COMPACT_SLACK``), so memory
    follows the customers with a timer, not the events that moved one."""

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[datetime, str]]] = {}
        self._next: dict[str, tuple[int, datetime]] = {}
        self._live: dict[int, int] = {}  # partition → customers with a timer there

    def note(self, partition: int, customer_id: str, due: datetime | None) -> None:
        known = self._next.get(customer_id)
        if known == (partition, due):
            return
        if known is not None:
            self._live[known[0]] -= 1
        if due is None:
            self._next.pop(customer_id, None)
            return
        self._next[customer_id] = (partition, due)
        live = self._live[partition] = self._live.get(partition, 0) + 1
        heap = self._heaps.setdefault(partition, [])
        heapq.heappush(heap, (due, customer_id))
        if len(heap) > 2 * live + COMPACT_SLACK:  # mostly stale: rebuild from the live ones
            heap = [(d, c) for c, (p, d) in self._next.items() if p == partition]
            heapq.heapify(heap)
            self._heaps[partition] = heap

    def entries(self) -> int:
        """Heap entries held, stale ones included."""
        return sum(len(heap) for heap in self._heaps.values())

    def earliest(self, partition: int) -> datetime | None:
        heap = self._heaps.get(partition, [])
        while heap and self._next.get(heap[0][1]) != (partition, heap[0][0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, partition: int, now: datetime) -> Iterator[str]:
        """Customers of ``partition`` with a timer due by ``now``; forgotten until noted again."""
        heap = self._heaps.get(partition, [])
        while heap and heap[0][0] <= now:
            due, customer = heapq.heappop(heap)
            if self._next.get(customer) == (partition, due):
                del self._next[customer]
                self._live[partition] -= 1
                yield customer

    def clear(self) -> None:
        self._heaps.clear()
        self._next.clear()
        self._live.clear()
