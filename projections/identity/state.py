"""The identity graph's state: links, customers, merges, pairs kept apart, and what changed.

Links stay on the customer they were made for; a merge only records ``merged_into``,
so following it leads to the survivor and undoing it gives the links back. Two indexes
are kept up to date with them: the keys linked to each customer, and the customers merged
directly into each one, so a survivor's identifiers are found without a scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from projections.identity.names import NameKey
from projections.identity.records import (
    Customer,
    EventRef,
    GraphChanges,
    GraphRows,
    Link,
    Merge,
    SharedMark,
)


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


class GraphState:
    def __init__(
        self,
        *,
        links: Iterable[tuple[str, str]],
        customers: Iterable[Customer],
        merged_into: Mapping[str, str],
        kept_apart: Iterable[tuple[str, str]],
        shared: Iterable[str] = (),
        names: Mapping[str, NameKey] | None = None,
    ) -> None:
        self._customers = {c.customer_id: c for c in customers}
        self._links: dict[str, set[str]] = {}
        self._keys_of: dict[str, set[str]] = {}  # customer -> keys linked to it (not merges)
        for key, customer_id in links:
            self._links.setdefault(key, set()).add(customer_id)
            self._keys_of.setdefault(customer_id, set()).add(key)
        self._merged_into = dict(merged_into)
        self._merged_from: dict[str, set[str]] = {}  # customer -> customers merged into it
        for merged, into in self._merged_into.items():
            self._merged_from.setdefault(into, set()).add(merged)
        self._kept_apart = {_pair(a, b) for a, b in kept_apart}
        # Identifiers found shared by people otherwise distinct: only ever added, so the
        # stored set and a cached graph's agree on every key either holds.
        self._shared = set(shared)
        # Each customer record's name, from the first event that named it: never changed.
        self._names = dict(names or {})
        self.clear_changes()

    def absorb(self, rows: GraphRows) -> None:
        """Add more of the stored graph (not changes): rows about customers not yet held.

        The adapter keeps one graph across batches and loads only what a batch newly
        touches; rows about customers already held are skipped, the graph's own copy
        being the same state.
        """
        fresh = {c.customer_id: c for c in rows.customers if c.customer_id not in self._customers}
        self._customers.update(fresh)
        for key, customer_id in rows.links:
            if customer_id in fresh:
                self._links.setdefault(key, set()).add(customer_id)
                self._keys_of.setdefault(customer_id, set()).add(key)
        for merged, into in rows.merged_into.items():
            if merged in fresh:
                self._merged_into[merged] = into
                self._merged_from.setdefault(into, set()).add(merged)
        self._initially_merged = frozenset(self._merged_into)
        self._kept_apart |= {_pair(a, b) for a, b in rows.kept_apart}
        self._shared.update(rows.shared)
        for customer_id, name in rows.names.items():
            self._names.setdefault(customer_id, name)

    def holds(self, customer_id: str) -> bool:
        return customer_id in self._customers

    def size(self) -> int:
        """Links held: a measure for bounding a cached graph."""
        return sum(len(v) for v in self._keys_of.values())

    def clear_changes(self) -> None:
        """Forget the changes so far: the adapter has persisted them."""
        self._initially_merged = frozenset(self._merged_into)
        self._new_customers: dict[str, Customer] = {}
        self._links_added: dict[tuple[str, str], EventRef] = {}
        self._links_removed: set[tuple[str, str]] = set()
        self._merged_added: dict[str, str] = {}
        self._unmerged: set[str] = set()
        self._kept_apart_added: set[tuple[str, str]] = set()
        self._merges: list[Merge] = []
        self._shared_added: list[SharedMark] = []
        self._names_added: dict[str, NameKey] = {}

    def changes(self) -> GraphChanges:
        return GraphChanges(
            customers=tuple(self._new_customers[c] for c in sorted(self._new_customers)),
            links_added=tuple(
                Link(key, customer_id, ref)
                for (key, customer_id), ref in sorted(self._links_added.items())
            ),
            links_removed=tuple(sorted(self._links_removed)),
            merged_into=tuple(sorted(self._merged_added.items())),
            unmerged=tuple(sorted(self._unmerged)),
            kept_apart=tuple(sorted(self._kept_apart_added)),
            merges=tuple(self._merges),
            shared=tuple(self._shared_added),
            names=tuple(sorted(self._names_added.items())),
        )

    def customer(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)

    def survivor(self, customer_id: str) -> str:
        """The customer this one was merged into, following chains; itself if not merged."""
        current = self._merged_into.get(customer_id)
        if current is None:  # most are not merged
            return customer_id
        for _ in range(len(self._merged_into)):
            following = self._merged_into.get(current)
            if following is None:
                return current
            current = following
        raise ValueError(f"merged_into loops from customer {customer_id}")

    def customers_of(self, identifier_key: str) -> set[str]:
        """The surviving customers an identifier leads to."""
        linked = self._links.get(identifier_key)
        if not linked:
            return set()
        return {self.survivor(c) for c in linked}

    def identifier_keys_of(self, customer_id: str) -> set[str]:
        """Every identifier leading to this customer's survivor: the links of the survivor and
        of every customer merged into it (as far as the loaded slice holds them)."""
        keys: set[str] = set()
        for member in self.members(self.survivor(customer_id)):
            keys |= self._keys_of.get(member, set())
        return keys

    def members(self, customer_id: str) -> set[str]:
        """This customer and every customer merged into it, directly or through others."""
        found, todo = {customer_id}, [customer_id]
        while todo:
            for merged in self._merged_from.get(todo.pop(), ()):
                if merged not in found:
                    found.add(merged)
                    todo.append(merged)
        return found

    def shared(self, identifier_key: str) -> bool:
        """Whether the identifier was found shared by people otherwise distinct."""
        return identifier_key in self._shared

    def names_of(self, customer_id: str) -> set[NameKey]:
        """The names this customer's survivor and the customers merged into it were first
        given (as far as the loaded slice holds them)."""
        members = self.members(self.survivor(customer_id))
        return {self._names[m] for m in members if m in self._names}

    def kept_apart(self, a: str, b: str) -> bool:
        """Whether a split said the survivors of these two are different people."""
        return self._conflicts({self.survivor(a), self.survivor(b)})

    def oldest(self, customer_ids: Iterable[str]) -> str:
        """The oldest customer: smallest (born_at, customer_id)."""
        return min(customer_ids, key=lambda c: self._known(c).age)

    def _known(self, customer_id: str) -> Customer:
        customer = self._customers.get(customer_id)
        if customer is None:
            raise LookupError(f"customer {customer_id} is not in the graph (load it first)")
        return customer

    def _conflicts(self, survivors: set[str]) -> bool:
        if len(survivors) < 2:
            return False
        for a, b in self._kept_apart:
            sa, sb = self.survivor(a), self.survivor(b)
            if sa != sb and sa in survivors and sb in survivors:
                return True
        return False

    def _add_customer(self, customer: Customer) -> None:
        self._customers[customer.customer_id] = customer
        self._new_customers[customer.customer_id] = customer

    def _link(self, key: str, customer_id: str, ref: EventRef) -> None:
        linked = self._links.setdefault(key, set())
        if customer_id in linked:
            return
        linked.add(customer_id)
        self._keys_of.setdefault(customer_id, set()).add(key)
        if (key, customer_id) in self._links_removed:
            self._links_removed.discard((key, customer_id))
        else:
            self._links_added[(key, customer_id)] = ref

    def _unlink(self, key: str, customer_id: str) -> None:
        self._links[key].discard(customer_id)
        self._keys_of.get(customer_id, set()).discard(key)
        if self._links_added.pop((key, customer_id), None) is None:
            self._links_removed.add((key, customer_id))

    def _set_merged(self, merge: Merge) -> None:
        for merged in merge.merged:
            previous = self._merged_into.get(merged)
            if previous is not None:
                self._merged_from[previous].discard(merged)
            self._merged_into[merged] = merge.survivor
            self._merged_from.setdefault(merge.survivor, set()).add(merged)
            self._merged_added[merged] = merge.survivor
            self._unmerged.discard(merged)
        self._merges.append(merge)

    def _unmerge(self, customer_id: str) -> None:
        self._merged_from[self._merged_into.pop(customer_id)].discard(customer_id)
        self._merged_added.pop(customer_id, None)
        if customer_id in self._initially_merged:
            self._unmerged.add(customer_id)

    def _mark_shared(self, key: str, reason: str, ref: EventRef) -> None:
        if key not in self._shared:
            self._shared.add(key)
            self._shared_added.append(SharedMark(key, reason, ref))

    def _name(self, customer_id: str, name: NameKey) -> None:
        if customer_id not in self._names:
            self._names[customer_id] = name
            self._names_added[customer_id] = name

    def _keep_apart(self, a: str, b: str) -> None:
        pair = _pair(a, b)
        if pair not in self._kept_apart:
            self._kept_apart.add(pair)
            self._kept_apart_added.add(pair)
