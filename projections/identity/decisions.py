"""A person's identity decisions: confirm that two customers are one, reject a suspected
duplicate, split a customer. Each is checked against the stored graph, built as an event
(``decision_events``, the factories the resolver uses too) and published to the log: the
resolver applies it there, so a rebuild from the log keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from events import Touchpoint
from events.touchpoints.identity import CustomerMerged, CustomerMergeRejected, CustomerSplit
from projections.identity import decision_events
from projections.identity.decision_events import Decided


class GraphReads(Protocol):
    """What deciding reads of the stored graph (``postgres.StoredGraph``)."""

    async def survivor_of(self, customer_id: str) -> str | None: ...
    async def older_first(self, customer_ids: Sequence[str]) -> list[str]: ...
    async def own_identifiers(self, customer_id: str) -> list[str]: ...
    async def last_merge(self, survivor: str, merged: str) -> str | None: ...


Publish = Callable[[Touchpoint], Awaitable[object]]
E = TypeVar("E", bound=Touchpoint)


class UnknownCustomer(LookupError):
    pass


class IdentityDecisions:
    """Decide, then publish. Raises LookupError for an unknown customer and ValueError for a
    decision that makes no sense (nothing is published then)."""

    def __init__(self, graph: GraphReads, publish: Publish) -> None:
        self._graph = graph
        self._publish = publish

    async def confirm(
        self, customer: str, other: str, decided: Decided, survivor: str | None = None
    ) -> CustomerMerged:
        """``customer`` and ``other`` are one person: their surviving customers merge, the
        older one surviving unless ``survivor`` (one of the two) says otherwise."""
        if survivor is not None and survivor not in (customer, other):
            raise ValueError(f"the survivor must be {customer} or {other}, not {survivor}")
        sa, sb = await self._survivors(customer, other)
        if survivor is None:
            kept, merged = await self._graph.older_first([sa, sb])
        else:
            kept, merged = (sa, sb) if survivor == customer else (sb, sa)
        return await self._sent(decision_events.confirmed_merge(kept, merged, decided))

    async def reject(self, customer: str, other: str, decided: Decided) -> CustomerMergeRejected:
        """``customer`` and ``other`` are different people: not suspected again."""
        sa, sb = await self._survivors(customer, other)
        return await self._sent(decision_events.rejected_merge(sa, sb, decided))

    async def split(
        self, original: str, new: str, decided: Decided, identifier_keys: Sequence[str] = ()
    ) -> CustomerSplit:
        """``new`` takes these identifiers back from ``original`` (default: those it held
        itself, before a merge into ``original``)."""
        if new == original:
            raise ValueError("a split needs a customer other than the original")
        survivor = await self._graph.survivor_of(original)
        if survivor is None:
            raise UnknownCustomer(f"{original} is unknown")
        if survivor != original:
            raise ValueError(f"{original} is merged into {survivor}")
        keys = list(identifier_keys) or await self._graph.own_identifiers(new)
        if not keys:
            raise ValueError(f"no identifiers to move to {new}; name them")
        reverses = await self._graph.last_merge(original, new)
        return await self._sent(decision_events.split(original, new, keys, decided, reverses))

    async def _survivors(self, a: str, b: str) -> tuple[str, str]:
        found = []
        for customer_id in (a, b):
            survivor = await self._graph.survivor_of(customer_id)
            if survivor is None:
                raise UnknownCustomer(f"no customer {customer_id}")
            found.append(survivor)
        if found[0] == found[1]:
            raise ValueError(f"{a} and {b} are already one customer ({found[0]})")
        return found[0], found[1]

    async def _sent(self, event: E) -> E:
        await self._publish(event)
        return event
