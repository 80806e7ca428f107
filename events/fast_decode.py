"""Decoding ``touchlog.resolved`` once per process, however many views read it.

The timeline, the profile and the metrics runners of ``touchlog up`` each read the
resolved topic, and each decoded every record: under the whole pipeline a third of
that process's time went to pydantic's ``validate_json`` of the same bytes, three times
(py-spy, docs/BENCHMARKS.md). The events are frozen models, so one decode can serve
every view: ``SharedDecodes`` keeps the last ``capacity`` records decoded, keyed by
their bytes, and decodes with its codec only what no view of the process has decoded.

A record that does not decode is never kept: each reader gets its ``InvalidEvent`` and
dead-letters it, as without the cache.

With an ``opener`` (``privacy.sealing.Opener``), ``decode_records`` opens sealed records
before decoding them — once per process too, keyed by the sealed bytes — and decodes
those with erased fields with ``lenient``. An opened record is kept at most ``max_age``
seconds, the opener's key cache window: an erasure reaches this cache as it reaches the
keys. (Rebuilding the objects without validation was
measured and is no faster than pydantic-core validating them: see docs/BENCHMARKS.md.)
"""

from __future__ import annotations

import functools
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from events.codec import Codec, InvalidEvent
from events.resolved import RESOLVED

T = TypeVar("T")

SHARED: weakref.WeakSet[SharedDecodes[Any]] = weakref.WeakSet()
"""Every shared decoder of the process: an erasure here empties them all (``forget``)."""

CAPACITY = 15_000  # ~4.4 KB each (the decoded event and its bytes): ~65 MB at most
"""Three batches of 5,000: the views of a process read the topic within about that."""


class OpenedRecord(Protocol):
    """A record opened (``privacy.sealing.Opened``)."""

    @property
    def value(self) -> bytes: ...
    @property
    def erased(self) -> bool: ...


class RecordOpener(Protocol):
    """Opens sealed records (``privacy.sealing.Opener``)."""

    async def open_many(
        self, values: Sequence[bytes | None]
    ) -> Sequence[OpenedRecord | InvalidEvent | None]: ...


class SharedDecodes(Codec[T]):
    """``codec``'s ``decode`` and ``decode_many``, each record decoded once while it is
    among the last ``capacity`` decoded; with an ``opener``, ``decode_records`` opens
    sealed records first."""

    def __init__(
        self,
        codec: Codec[T],
        capacity: int = CAPACITY,
        *,
        opener: RecordOpener | None = None,
        lenient: Callable[[bytes], T] | None = None,
        max_age: float = 60.0,
    ) -> None:
        super().__init__(codec._adapter, codec._batch)
        self._codec = codec
        self._capacity = capacity
        self._decoded: OrderedDict[bytes, T] = OrderedDict()
        self._opener = opener
        self._lenient = lenient
        self._max_age = max_age
        self._born: dict[bytes, float] = {}
        SHARED.add(self)
        self.hits = 0
        self.misses = 0

    @property
    def opener(self) -> RecordOpener | None:
        """What opens sealed records before they are decoded (None: records are clear)."""
        return self._opener

    @property
    def codec(self) -> Codec[T]:
        """The codec records are decoded with."""
        return self._codec

    async def decode_records(self, raws: Sequence[bytes | None]) -> list[T | InvalidEvent]:
        """Each record opened (if sealed) and decoded, or why it was rejected: a key the
        store does not hold, a sealed value that does not open, an invalid event."""
        if self._opener is None:
            return self.decode_many(raws)
        now = time.monotonic()
        results: list[Any] = [None] * len(raws)
        missing: list[int] = []
        decoded, born = self._decoded, self._born
        for i, raw in enumerate(raws):
            known = decoded.get(raw) if raw else None
            if known is None or now - born.get(raw, now) > self._max_age:  # type: ignore[arg-type]
                missing.append(i)
            else:
                results[i] = known
        self.hits += len(raws) - len(missing)
        self.misses += len(missing)
        if not missing:
            return results
        opened = await self._opener.open_many([raws[i] for i in missing])
        clear: list[tuple[int, bytes]] = []
        for i, outcome in zip(missing, opened, strict=True):
            if outcome is None or isinstance(outcome, InvalidEvent):
                results[i] = outcome or self._codec.decode_many([None])[0]
            elif outcome.erased and self._lenient is not None:
                try:
                    results[i] = self._lenient(outcome.value)
                except InvalidEvent as exc:
                    results[i] = exc
            else:
                clear.append((i, outcome.value))
        fresh = self._codec.decode_many([value for _, value in clear])
        for (i, _), result in zip(clear, fresh, strict=True):
            results[i] = result
        for i in missing:
            raw, result = raws[i], results[i]
            if raw and not isinstance(result, InvalidEvent):
                decoded[raw] = result
                decoded.move_to_end(raw)
                born[raw] = now
        while len(decoded) > self._capacity:
            raw, _ = decoded.popitem(last=False)
            born.pop(raw, None)
        return results

    def forget(self) -> None:
        """Drop every record kept (after an erasure in this process)."""
        self._decoded.clear()
        self._born.clear()

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
