"""Identity resolution: which customer an event is about; merging and splitting customers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from events import Subject
from projections.identity.identifiers import Identifier, IdentifierKind
from projections.identity.records import (
    Customer,
    EventRef,
    GraphChanges,
    Link,
    Merge,
    Resolution,
    new_customer_id,
)
from projections.identity.rules import IdentityRules, identifiers_of
from projections.identity.state import GraphState

__all__ = [
    "Customer",
    "EventRef",
    "GraphChanges",
    "IdentityGraph",
    "Link",
    "Merge",
    "Resolution",
    "new_customer_id",
]

_NO_MERGES: Mapping[str, str] = MappingProxyType({})
_Lead = tuple[Identifier, set[str]]


def _merge_reason(ref: EventRef, leads: list[_Lead]) -> str:
    found = "; ".join(f"{i.key} -> {', '.join(sorted(customers))}" for i, customers in leads)
    return f"event {ref.source_system}/{ref.message_id} shares identifiers: {found}"


class IdentityGraph(GraphState):
    """In-memory graph; the adapter loads the relevant slice from PostgreSQL into it,
    resolves a batch of events in order, then persists ``changes()``.

    The slice for a batch: the links of every identifier key of its subjects (see
    ``identifiers_of``), the customers those links and the subjects' customer ids name,
    the ``merged_into`` rows from them up to their survivors, the survivors' customers, and
    the kept-apart pairs touching any of these customers.
    """

    def __init__(
        self,
        rules: IdentityRules,
        *,
        links: Iterable[tuple[str, str]] = (),
        customers: Iterable[Customer] = (),
        merged_into: Mapping[str, str] = _NO_MERGES,
        kept_apart: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(
            links=links, customers=customers, merged_into=merged_into, kept_apart=kept_apart
        )
        self.rules = rules

    def resolve(self, subject: Subject, ref: EventRef) -> Resolution:
        """Decide which customer the event is about, and apply that to the graph."""
        identifiers, rejected = identifiers_of(subject, self.rules)
        not_matched = [(f"{r.identifier_kind.prefix}:{r.raw}", r.reason) for r in rejected]
        new_customer: Customer | None = None
        leads: list[_Lead] = []
        for identifier in identifiers:
            if identifier.kind is IdentifierKind.CUSTOMER_ID:  # authoritative, never limited
                if self.customer(identifier.value) is None:
                    new_customer = Customer(identifier.value, ref.occurred_at, ref.message_id)
                    self._add_customer(new_customer)
                leads.append((identifier, {self.survivor(identifier.value)}))
                continue
            found = self.customers_of(identifier.key)
            limit = self.rules.limit(identifier.kind)
            if limit is not None and len(found) >= limit:
                reason = f"over the limit: linked to {len(found)} customers (limit {limit})"
                not_matched.append((identifier.key, reason))
            elif found:
                leads.append((identifier, found))

        candidates = set().union(*(found for _, found in leads))
        merges: tuple[Merge, ...] = ()
        kept_apart: set[str] = set()
        if not candidates:
            resolved = new_customer_id(ref)
            if self.customer(resolved) is None:
                new_customer = Customer(resolved, ref.occurred_at, ref.message_id)
                self._add_customer(new_customer)
            resolved = self.survivor(resolved)  # the same event resolved again
        elif len(candidates) == 1:
            (resolved,) = candidates
        elif self._conflicts(candidates):
            resolved = self.oldest(leads[0][1])
            for identifier, found in leads:
                if found != {resolved}:
                    kept_apart.add(identifier.key)
                    reason = f"kept apart by a split: leads to {', '.join(sorted(found))}"
                    not_matched.append((identifier.key, reason))
        else:
            resolved = self.oldest(candidates)
            merged = sorted(candidates - {resolved}, key=lambda c: self._known(c).age)
            merges = (Merge(resolved, tuple(merged), _merge_reason(ref, leads)),)
            self._set_merged(merges[0])

        # The identifiers the event carries lead to the resolved customer from now on, even
        # those over their limit: a caller lookup must list every customer on a shared line.
        # Not those a split gave to another customer: one event must not undo a person's
        # decision. Nor a customer id: the customer record itself is that link.
        new_links: list[tuple[str, str]] = []
        for identifier in identifiers:
            if identifier.kind is IdentifierKind.CUSTOMER_ID or identifier.key in kept_apart:
                continue
            if resolved not in self.customers_of(identifier.key):
                self._link(identifier.key, resolved, ref)
                new_links.append((identifier.key, resolved))
        return Resolution(resolved, new_customer, tuple(new_links), merges, tuple(not_matched))

    def merge(self, survivor: str, merged: Sequence[str], reason: str) -> Merge:
        """Merge confirmed duplicates into ``survivor`` (a person's decision: splits don't stop it).

        Raises LookupError for a customer not in the graph, ValueError for an impossible merge.
        """
        if not merged or survivor in merged or len(set(merged)) != len(merged):
            raise ValueError("a merge needs distinct customers to merge, other than the survivor")
        for customer_id in (survivor, *merged):
            self._known(customer_id)
            if self.survivor(customer_id) != customer_id:
                into = self.survivor(customer_id)
                raise ValueError(f"customer {customer_id} was already merged into {into}")
        merge = Merge(survivor, tuple(merged), reason)
        self._set_merged(merge)
        return merge

    def split(
        self, original: str, new_customer_id: str, identifier_keys: Sequence[str], ref: EventRef
    ) -> None:
        """Undo a wrong merge: ``new_customer_id`` takes those identifiers from ``original``,
        and the two are kept apart from then on.

        If ``new_customer_id`` had been merged into ``original``, that merge is undone: it
        takes back its own links too. An unknown id becomes a customer born from ``ref``.
        Raises LookupError for an unknown ``original``, ValueError for an impossible split;
        nothing changes then.
        """
        self._known(original)
        if self.survivor(original) != original:
            into = self.survivor(original)
            raise ValueError(f"customer {original} was merged into {into}: split {into}")
        if new_customer_id == original:
            raise ValueError("a split needs a customer other than the original")
        moved = {
            Identifier.parse(key).key: self._group_links(key, original) for key in identifier_keys
        }
        if missing := sorted(key for key, linked in moved.items() if not linked):
            raise ValueError(f"not linked to customer {original}: {', '.join(missing)}")
        known, into = self.customer(new_customer_id) is not None, self.survivor(new_customer_id)
        if known and into not in (original, new_customer_id):
            raise ValueError(f"customer {new_customer_id} was merged into {into}, not {original}")
        unmerging = known and into == original
        if not moved and not unmerging:
            raise ValueError(f"nothing to split: no identifiers move to {new_customer_id}")
        if not known:
            self._add_customer(Customer(new_customer_id, ref.occurred_at, ref.message_id))
        elif unmerging:
            self._unmerge(new_customer_id)
        for key, linked in sorted(moved.items()):
            for customer_id in linked:
                if customer_id != new_customer_id:
                    self._unlink(key, customer_id)
            self._link(key, new_customer_id, ref)
        self._keep_apart(original, new_customer_id)

    def _group_links(self, key: str, survivor: str) -> list[str]:
        return sorted(c for c in self._links.get(key, ()) if self.survivor(c) == survivor)
