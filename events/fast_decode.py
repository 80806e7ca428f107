"""Decoding ``touchlog.resolved`` once per process, however many views read it.

The timeline, the profile and the metrics runners of ``touchlog up`` each read the
resolved topic, and each decoded every record: under the whole pipeline a third of
that process's time went to pydantic's ``validate_json`` of the same bytes, three times
(py-spy, docs/BENCHMARKS.md). The events are frozen models, so one decode can serve
every view: ``SharedDecodes`` keeps the last ``capacity`` records decoded, keyed by
their bytes, and decodes with its codec only what no view of the process has decoded.

A record that does not decode is never kept: each reader gets its ``InvalidEvent`` and
dead-letters it, as without the cache. (Rebuilding the objects without validation was
measured and is no faster than pydantic-core validating them: see docs/BENCHMARKS.md.)
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, TypeVar

from events.codec import Codec, InvalidEvent
from events.resolved import RESOLVED

T = TypeVar("T")

CAPACITY = 15_000  # ~4.4 KB each (the decoded event and its bytes): ~65 MB at most
"""Three batches of 5,000: the views of a process read the topic within about that."""


class SharedDecodes(Codec[T]):
    """``codec``'s ``decode`` and ``decode_many``, each record decoded once while it is
    among the last ``capacity`` decoded."""

    def __init__(self, codec: Codec[T], capacity: int = CAPACITY) -> None:
        super().__init__(codec._adapter, codec._batch)
        self._codec = codec
        self._capacity = capacity
        self._decoded: OrderedDict[bytes, T] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def decode(self, raw: bytes | str) -> T:
        """One record. Raises ``InvalidEvent`` as the codec does."""
        result = self.decode_many([raw.encode() if isinstance(raw, str) else raw])[0]
        if isinstance(result, InvalidEvent):
            raise result
        return result

    def decode_many(self, raws: Sequence[bytes | None]) -> list[T | InvalidEvent]:
        """Each position holds the record or why it was rejected."""
        results: list[Any] = [None] * len(raws)
        missing: list[int] = []
        decoded = self._decoded
        for i, raw in enumerate(raws):
            known = decoded.get(raw) if raw else None
            if known is None:
                missing.append(i)
            else:
                results[i] = known
        self.hits += len(raws) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self._codec.decode_many([raws[i] for i in missing])
            for i, result in zip(missing, fresh, strict=True):
                results[i] = result
                raw = raws[i]
                if raw and not isinstance(result, InvalidEvent):
                    decoded[raw] = result
            while len(decoded) > self._capacity:
                decoded.popitem(last=False)
        return results


@functools.cache
def shared_resolved() -> SharedDecodes[Any]:
    """The process's decoder of ``touchlog.resolved`` for its views: one, made on first use."""
    return SharedDecodes(RESOLVED)
