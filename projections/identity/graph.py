"""Identity resolution: which customer an event is about; merging and splitting customers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from events import Subject
from projections.identity.identifiers import Identifier, IdentifierKind
from projections.identity.names import NameKey
from projections.identity.records import Customer, EventRef, Merge, Resolution, new_customer_id
from projections.identity.rules import IdentityRules, Rejected, identifiers_of, limit_group
from projections.identity.state import GraphState

__all__ = ["IdentityGraph"]

_NO_MERGES: Mapping[str, str] = MappingProxyType({})
_Lead = tuple[Identifier, set[str]]
_Group = tuple[IdentifierKind, str]
_ORDINALS: tuple[str, ...] = ("first", "second", "third", "fourth", "fifth", "sixth")
_ORDINALS += ("seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth")


# Identifiers a household or an office shares; when one leads to people the event's
# person cannot be (another email, another business unit customer number), it is shared.
SHARED_WHEN_DISTINCT = frozenset({IdentifierKind.PHONE})
_DISTINGUISHING = frozenset({IdentifierKind.EMAIL, IdentifierKind.EXTERNAL_ID})
SHARED_REASON = "shared: found on people otherwise distinct"


def _reveals_sharing(kind: IdentifierKind, limited: IdentifierKind) -> bool:
    """Whether an identifier of ``kind``, refused because joining would break the
    per-customer limit of ``limited``, is shared by different people."""
    return kind in SHARED_WHEN_DISTINCT and limited in _DISTINGUISHING


def _merge_reason(ref: EventRef, leads: list[_Lead]) -> str:
    found = "; ".join(f"{i.key} -> {', '.join(sorted(customers))}" for i, customers in leads)
    return f"event {ref.source_system}/{ref.message_id} shares identifiers: {found}"


def _groups(keys: Iterable[str]) -> dict[_Group, int]:
    """How many keys each limit counts (a plain dict: a Counter costs more to make)."""
    counts: dict[_Group, int] = {}
    for key in keys:
        group = limit_group(key)
        if group is not None:
            counts[group] = counts.get(group, 0) + 1
    return counts


def _over_limit_reason(customers: set[str], group: _Group, count: int, limit: int) -> str:
    kind, type_ = group
    if not customers:
        who = "the event's customer"
    elif len(customers) == 1:
        who = f"customer {next(iter(customers))}"
    else:
        who = f"customers {', '.join(sorted(customers))} merged"
    nth = _ORDINALS[count - 1] if count <= len(_ORDINALS) else f"{count}th"
    article = "an" if nth[0] in "aeiou" else "a"
    if kind is IdentifierKind.EXTERNAL_ID:
        what, per = f"{type_} external id", " per type"
    else:
        what, per = kind.prefix.replace("_", " "), ""
    return f"would give {who} {article} {nth} {what} (limit {limit}{per})"


class _Accepted:
    """The customers and event identifiers one resolution has accepted so far."""

    def __init__(self, graph: GraphState, rules: IdentityRules) -> None:
        self._graph, self._rules = graph, rules
        self.customers: set[str] = set()
        self.keys: list[str] = []  # the event's, in priority order: linked at the end
        # Per customer, cached: the links do not change until the resolution ends.
        self._keys_of: dict[str, set[str]] = {}
        self._held: dict[str, dict[_Group, int]] = {}

    def keys_of(self, customer_id: str) -> set[str]:
        keys = self._keys_of.get(customer_id)
        if keys is None:
            keys = self._keys_of[customer_id] = self._graph.identifier_keys_of(customer_id)
        return keys

    def held(self, customer_id: str) -> dict[_Group, int]:
        counts = self._held.get(customer_id)
        if counts is None:
            counts = self._held[customer_id] = _groups(self.keys_of(customer_id))
        return counts

    def over_limit(self, key: str, found: set[str]) -> tuple[str, IdentifierKind] | None:
        """Why accepting ``key`` and the customers it leads to would break a per-customer
        limit, and the kind whose limit it breaks; or None. A customer already over a limit
        (e.g. two emails after a confirmed merge) keeps what it holds: the limit is then
        what the largest holder holds."""
        customers = self.customers | found
        if len(customers) > 1:
            return self._over_limit_joining(key, found, customers)
        # One customer (or none): only the groups of keys it does not hold yet can grow,
        # each from what it holds; the others stay within what the customer already holds.
        (customer_id,) = customers or (None,)
        held_keys = self.keys_of(customer_id) if customer_id is not None else set()
        new = {k for k in (*self.keys, key) if k not in held_keys}
        if not new:
            return None
        held = self.held(customer_id) if customer_id is not None else {}
        for group, added in sorted(_groups(new).items()):
            limit = self._rules.per_customer_limit(group[0])
            if limit is None:
                continue
            holds = held.get(group, 0)
            if holds + added > max(limit, holds):
                reason = _over_limit_reason(found or self.customers, group, holds + added, limit)
                return reason, group[0]
        return None

    def _over_limit_joining(
        self, key: str, found: set[str], customers: set[str]
    ) -> tuple[str, IdentifierKind] | None:
        keys = set(self.keys) | {key}
        for customer_id in customers:
            keys |= self.keys_of(customer_id)
        for group, count in sorted(_groups(keys).items()):
            limit = self._rules.per_customer_limit(group[0])
            if limit is None:
                continue
            allowed = max([limit, *(self.held(c).get(group, 0) for c in customers)])
            if count > allowed:
                return _over_limit_reason(found or self.customers, group, count, limit), group[0]
        return None


class IdentityGraph(GraphState):
    """In-memory graph; the adapter loads the relevant slice from PostgreSQL into it,
    resolves a batch of events in order, then persists ``changes()``.

    The slice for a batch: the links of every identifier key of its subjects (see
    ``identifiers_of``), the customers those links and the subjects' customer ids name,
    the ``merged_into`` rows from them up to their survivors and down to every customer
    merged into those survivors, all these customers, *every link of each of them* (the
    per-customer limits count what a customer holds), and the kept-apart pairs touching
    any of them. ``links`` is one iterable of ``(identifier key, customer id)`` pairs for
    all of it; duplicates are harmless.
    """

    def __init__(
        self,
        rules: IdentityRules,
        *,
        links: Iterable[tuple[str, str]] = (),
        customers: Iterable[Customer] = (),
        merged_into: Mapping[str, str] = _NO_MERGES,
        kept_apart: Iterable[tuple[str, str]] = (),
        shared: Iterable[str] = (),
        names: Mapping[str, NameKey] | None = None,
    ) -> None:
        super().__init__(
            links=links,
            customers=customers,
            merged_into=merged_into,
            kept_apart=kept_apart,
            shared=shared,
            names=names,
        )
        self.rules = rules

    def resolve(self, subject: Subject, ref: EventRef, name: NameKey | None = None) -> Resolution:
        """``resolve_identified`` with the subject's identifiers parsed under these rules."""
        return self.resolve_identified(identifiers_of(subject, self.rules), ref, name)

    def resolve_identified(
        self,
        identified: tuple[list[Identifier], list[Rejected]],
        ref: EventRef,
        name: NameKey | None = None,
    ) -> Resolution:
        """Decide which customer the event is about, and apply that to the graph.

        The event's identifiers are taken from the highest priority down (an explicit
        customer id first: authoritative, always taken, and then no other identifier
        merges another customer into it). Each one brings the customers it
        leads to, unless it is linked to ``max_customers`` of them already (shared: it still
        counts as the event's own identifier), or it would join customers a split kept
        apart, or the customers taken so far plus its own, with their identifiers and the
        event's taken so far, would hold more than ``max_per_customer`` allows (Segment
        Unify's per-customer limit). An identifier refused is reported in ``not_matched``
        and not linked. The customers taken are merged into the oldest; none: the event
        is a new customer. The event's identifiers taken are linked to it.

        A phone refused because the customers it leads to hold another email or business
        customer number than the event's person is shared (``SHARED_WHEN_DISTINCT``): from
        then on it matches nobody, in this event too, and it is linked to every person it
        is seen with (but not to a nameless customer born from shared identifiers alone). So is a
        phone leading to customers known under a name clearly different from the event's
        ``name`` (``NameKey.clearly_differs``); a customer's name is the first one an event
        resolved to it gave.

        So a landline shared by two people with their own emails leads to both and merges
        neither, and a person writing two different emails stays two customers until a
        person confirms the duplicate: precision over recall.
        """
        identifiers, rejected = identified
        not_matched = [(f"{r.identifier_kind.prefix}:{r.raw}", r.reason) for r in rejected]
        new_customer: Customer | None = None
        leads: list[_Lead] = []
        accepted = _Accepted(self, self.rules)
        named = False
        for identifier in identifiers:
            key = identifier.key
            if identifier.kind is IdentifierKind.CUSTOMER_ID:  # authoritative, never limited
                if self.customer(identifier.value) is None:
                    new_customer = Customer(identifier.value, ref.occurred_at, ref.message_id)
                    self._add_customer(new_customer)
                found = {self.survivor(identifier.value)}
                accepted.customers |= found
                leads.append((identifier, found))
                named = True
                continue
            found = self.customers_of(key)
            if named:
                # A channel that names its customer says who this is. Its other identifiers
                # are linked to that customer (a shared landline leads to both), but never
                # merge two customers a channel system keeps apart by id.
                found &= accepted.customers
            limit = self.rules.limit(identifier.kind)
            if found and self.shared(key):
                not_matched.append((key, SHARED_REASON))
                found = set()
            if limit is not None and len(found) >= limit:
                reason = f"over the limit: linked to {len(found)} customers (limit {limit})"
                not_matched.append((key, reason))
                found = set()
            if found and self._conflicts(accepted.customers | found):
                reason = f"kept apart by a split: leads to {', '.join(sorted(found))}"
                not_matched.append((key, reason))
                continue
            others = found - accepted.customers
            problem = self._named_otherwise(identifier.kind, others, name)
            if problem is None and (refused := accepted.over_limit(key, found)) is not None:
                problem, limited = refused
                if not (others and _reveals_sharing(identifier.kind, limited)):
                    not_matched.append((key, problem))
                    continue
            if problem is not None:
                # The people it leads to are not this event's person: from now on it
                # names nobody. It stays this event's own identifier (a lookup lists
                # everyone on the line) if this customer may hold one more of its kind.
                self._mark_shared(key, f"{SHARED_REASON}: {problem}", ref)
                not_matched.append((key, f"{SHARED_REASON}: {problem}"))
                if (refused := accepted.over_limit(key, set())) is not None:
                    not_matched.append((key, refused[0]))
                    continue
                found = set()
            accepted.keys.append(key)
            if found:
                accepted.customers |= found
                leads.append((identifier, found))

        candidates = accepted.customers
        merges: tuple[Merge, ...] = ()
        if not candidates:
            resolved = new_customer_id(ref)
            if self.customer(resolved) is None:
                new_customer = Customer(resolved, ref.occurred_at, ref.message_id)
                self._add_customer(new_customer)
            resolved = self.survivor(resolved)  # the same event resolved again
        elif len(candidates) == 1:
            (resolved,) = candidates
        else:
            resolved = self.oldest(candidates)
            merged = sorted(candidates - {resolved}, key=lambda c: self._known(c).age)
            merges = (Merge(resolved, tuple(merged), _merge_reason(ref, leads)),)
            self._set_merged(merges[0])

        # The identifiers taken lead to the resolved customer from now on, even those over
        # ``max_customers``: a caller lookup must list every customer on a shared line. Not
        # those refused: one event must not undo a person's split, nor break a limit. Nor
        # a customer id: the customer record itself is that link.
        # Nor a shared identifier on a customer born from shared identifiers alone: a call
        # from a switchboard is nobody in particular, not one more person on the line. A
        # named person is somebody.
        if name is not None:
            self._name(resolved, name)
        anchored = bool(candidates) or name is not None
        anchored = anchored or any(not self.shared(k) for k in accepted.keys)
        new_links: list[tuple[str, str]] = []
        for key in accepted.keys:
            if not anchored and self.shared(key):
                continue
            if resolved not in self.customers_of(key):
                self._link(key, resolved, ref)
                new_links.append((key, resolved))
        return Resolution(resolved, new_customer, tuple(new_links), merges, tuple(not_matched))

    def _named_otherwise(
        self, kind: IdentifierKind, others: set[str], name: NameKey | None
    ) -> str | None:
        """Why a phone leading to ``others`` is someone else's too: one of them is known
        under a name clearly different from the event's; or None."""
        if name is None or kind not in SHARED_WHEN_DISTINCT:
            return None
        for customer_id in sorted(others):
            known = self.names_of(customer_id)
            if known and all(name.clearly_differs(k) for k in known):
                return f"customer {customer_id} is known under another name"
        return None

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
