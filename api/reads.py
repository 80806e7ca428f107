"""The read side's use cases: what a rep, a manager or marketing may read of a customer.

``CustomerReads`` is built once, with the app, and owns what every read shares: following
a customer's merge family (an id, a merged id, or an identifier that names one customer),
the access policy (roles, tiers, a reveal and its reason), redaction, and the access
audit, written in the transaction that reads what it records. Routes parse, call one
method and answer; the errors it raises are mapped once (``api.errors``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from api import audit_log
from api.audit_log import AccessFilter
from api.audit_masks import masked_identifier, masked_query
from api.auth import Caller
from api.errors import Ambiguous, NotFound, Unprocessable
from api.finding import find_customers
from api.known_customers import seen_in_views
from api.profile_access import check_reveal, history_allowed, readable_tiers, visible_profile
from api.redaction import highest_tier, redact_entry
from api.roles import Role
from api.schemas import (
    AccessLog,
    AccessRecord,
    CallerCard,
    Customer,
    HistoryResponse,
    LookupResult,
    ProfileResponse,
    SearchResult,
    TimelineItem,
    TimelineResponse,
)
from events import EVENT_TYPES, Channel, Tier
from projections.caller.postgres import caller_lookup
from projections.cursor import Cursor, InvalidCursor
from projections.db import Connection, Queryable
from projections.identity import IdentifierKind, IdentityRules, Rejected
from projections.identity.family import Family, families_for, family_of, identifiers_of
from projections.identity.graph import SHARED_REASON
from projections.identity.identifiers import normalise_phone
from projections.profile import Section, by_section, field_named, history, profile_of
from projections.profile import postgres as profiles
from projections.profile.search import lookups
from projections.timeline.owners import owner_of
from projections.timeline.postgres import fetch_timeline

_KINDS = {kind.prefix: kind for kind in IdentifierKind}
_LOOKUP_KINDS = {
    "phone": IdentifierKind.PHONE,
    "email": IdentifierKind.EMAIL,
    "external_id": IdentifierKind.EXTERNAL_ID,
}


@dataclass(frozen=True, slots=True)
class Disclosure:
    """How much a caller asks to read, and why."""

    reveal: Tier | None = None
    reason: str | None = None
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    before: str | None = None
    limit: int = 50
    channels: Sequence[Channel] = ()
    types: Sequence[str] = ()
    business_units: Sequence[str] = ()


@dataclass(frozen=True)
class CustomerReads:
    pool: asyncpg.Pool
    rules: IdentityRules

    # --- the merge family ----------------------------------------------------------------

    async def family(self, conn: Queryable, key: str) -> Family | None:
        """The family ``key`` names: a customer id (a merged one leads to its survivor) or
        an identifier such as ``phone:06 28 23 04 55`` naming one customer (``Ambiguous``
        if it names several)."""
        written = _written_identifier(key)
        if written is None:
            return await family_of(conn, key)
        identifier = self._identifier(*written, field="key")
        found = await families_for(conn, identifier)
        if len(found) > 1:
            raise Ambiguous(identifier, [f.survivor for f in found])
        return found[0] if found else None

    def _identifier(self, kind: IdentifierKind, raw: str, *, field: str) -> str:
        accepted = self.rules.identifier(kind, raw)
        if isinstance(accepted, Rejected):
            raise Unprocessable(field, accepted.reason)
        return accepted.key

    # --- reps' tools ---------------------------------------------------------------------

    async def customer(self, customer_id: str, caller: Caller | None = None) -> Customer:
        """The surviving customer ``customer_id`` belongs to (``NotFound``); the read is
        audited when it is made for a ``caller``."""
        async with self._reading() as conn:
            family = await family_of(conn, customer_id)
            if family is None:
                await _alone(conn, customer_id)
                found = Customer(
                    customer_id=customer_id, born_at=None, merged_ids=[customer_id], identifiers=[]
                )
            else:
                found = Customer(
                    customer_id=family.survivor,
                    born_at=family.born_at,
                    merged_ids=family.ids,
                    identifiers=await identifiers_of(conn, family),
                )
            if caller is not None:
                await _audit(conn, caller, found.customer_id, "customer", [], Disclosure())
        return found

    async def lookup(self, caller: Caller, written: Mapping[str, str | None]) -> LookupResult:
        """Who is calling: the essential card of every customer the one identifier given
        (phone, email or external_id, any written form) leads to; ambiguous when several
        do, and shared when resolution found it on people otherwise distinct. Audited,
        with the customers found and the identifier masked."""
        result = await self._lookup(written)
        [(field, raw)] = [(name, value) for name, value in written.items() if value]
        access = audit_log.Access(
            caller.name,
            caller.role.value,
            None,
            "lookup",
            [],
            customer_ids=[c.customer_id for c in result.candidates],
            detail=masked_identifier(field, raw),
        )
        await audit_log.record(self.pool, access)
        return result

    async def _lookup(self, written: Mapping[str, str | None]) -> LookupResult:
        given = [(name, value) for name, value in written.items() if value]
        if len(given) != 1:
            raise Unprocessable(None, f"give exactly one of {', '.join(_LOOKUP_KINDS)}")
        [(field, raw)] = given
        kind = _LOOKUP_KINDS[field]
        accepted = self.rules.identifier(kind, raw)
        if isinstance(accepted, Rejected):
            if accepted.malformed:
                raise Unprocessable(field, accepted.reason)
            configured = kind is IdentifierKind.PHONE and (
                normalise_phone(raw, self.rules.default_region) in self.rules.shared_numbers
            )
            return LookupResult(
                identifier=f"{kind.prefix}:{raw}",
                candidates=[],
                shared=configured,
                not_matched=accepted.reason,
            )
        found = await caller_lookup(self.pool, accepted.key)
        return LookupResult(
            identifier=accepted.key,
            candidates=[CallerCard.model_validate(c) for c in found.cards],
            ambiguous=len(found.cards) > 1,
            shared=found.shared,
            not_matched=SHARED_REASON if found.shared else None,
        )

    async def search(self, caller: Caller, query: str, limit: int) -> SearchResult:
        """Customers a name, email, phone or postcode (a current or a former one) finds,
        each with its essential card. Audited, with the customers found and the query
        masked."""
        async with self._reading() as conn:
            found = await find_customers(
                conn, lookups(query, self.rules.default_region), query, limit
            )
            access = audit_log.Access(
                caller.name,
                caller.role.value,
                None,
                "search",
                [],
                customer_ids=[m.customer_id for m in found.matches],
                detail=masked_query(query),
            )
            await audit_log.record(conn, access)
        return found

    async def timeline(
        self, caller: Caller, key: str, page: TimelineQuery, ask: Disclosure
    ) -> TimelineResponse:
        """A page of the touchpoints of ``key``'s family, newest first, cut to the tiers
        the caller may read; every page is audited, with what it served above the essential
        tier."""
        check_reveal(caller.role, ask.reveal, ask.reason, owns=True)
        unknown = sorted(set(page.types) - set(EVENT_TYPES))
        if unknown:
            raise Unprocessable("type", f"unknown event type(s): {', '.join(unknown)}")
        before = _cursor(page.before, "before")
        async with self._reading() as conn:
            subject, keys = await self._members(conn, key)
            owns = await _owns(conn, caller, keys, ask)
            readable = readable_tiers(caller.role, ask.reveal, owns=owns)
            try:
                found = await fetch_timeline(
                    conn,
                    keys,
                    limit=page.limit,
                    before=before,
                    channels=[c.value for c in page.channels],
                    types=page.types,
                    business_units=page.business_units,
                )
            except InvalidCursor as exc:
                raise Unprocessable("before", str(exc)) from None
            items, served = [], set[str]()
            for entry in found.entries:
                item, paths = redact_entry(entry, readable)
                items.append(TimelineItem.model_validate(item))
                served |= paths
            audit_id = await _audit(
                conn, caller, subject, "timeline", sorted(served), ask, owns=owns
            )
        withheld = sorted(t.value for t in Tier if t not in readable)
        return TimelineResponse(
            subject_key=key,
            items=items,
            next_cursor=found.next_cursor,
            withheld=withheld,
            audit_id=audit_id,
        )

    async def newest_touchpoint(self, key: str) -> str | None:
        """The message id of ``key``'s newest touchpoint: what a live page probes to know
        whether to read again. It serves nothing to anyone, so it is not audited (the
        read that follows is)."""
        async with self._reading() as conn:
            _, keys = await self._members(conn, key)
            found = await fetch_timeline(conn, keys, limit=1)
        return str(found.entries[0]["message_id"]) if found.entries else None

    # --- the customer information file ---------------------------------------------------

    async def profile(self, caller: Caller, customer_id: str, ask: Disclosure) -> ProfileResponse:
        """The profile as of now or ``ask.as_of``, with the fields the caller's role sees."""
        check_reveal(caller.role, ask.reveal, ask.reason, owns=True)
        async with self._reading() as conn:
            survivor, ids = await self._members_of_id(conn, customer_id)
            owns = await _owns(conn, caller, ids, ask)
            read_at = datetime.now(UTC)
            facts = await profiles.load_facts(conn, ids, ask.as_of)
            visible = visible_profile(
                profile_of(facts, ask.as_of, read_at), caller.role, ask.reveal, owns=owns
            )
            audited = visible.audited()
            audit_id = await _audit(conn, caller, survivor, "profile", audited, ask, owns=owns)
        sections = by_section(visible.values)
        return ProfileResponse(
            customer_id=survivor,
            merged_ids=ids,
            as_of=ask.as_of,
            read_at=read_at,
            role=caller.role.value,
            **{
                section.value: values["consents"] if section is Section.CONSENTS else values
                for section, values in sections.items()
            },
            withheld=visible.withheld,
            audit_id=audit_id,
        )

    async def history(
        self, caller: Caller, customer_id: str, field: str, ask: Disclosure
    ) -> HistoryResponse:
        """Every value a field took, oldest first, if the caller's role may read it."""
        check_reveal(caller.role, ask.reveal, ask.reason, owns=True)
        chosen = field_named(field)
        if chosen is None:
            raise Unprocessable("field", f"no profile field {field!r}")
        if chosen.time_only:
            raise Unprocessable(
                "field", f"{chosen.name} changes with time alone: it has no history"
            )
        history_allowed(chosen, caller.role, ask.reveal, owns=True)
        async with self._reading() as conn:
            survivor, ids = await self._members_of_id(conn, customer_id)
            owns = await _owns(conn, caller, ids, ask)
            history_allowed(chosen, caller.role, ask.reveal, owns=owns)
            facts = await profiles.load_facts(conn, ids, ask.as_of)
            audited = [chosen.name] if chosen.tier is not Tier.ESSENTIAL else []
            audit_id = await _audit(
                conn, caller, survivor, "profile.history", audited, ask, owns=owns
            )
        return HistoryResponse(
            customer_id=survivor,
            field=chosen.name,
            tier=chosen.tier.value,
            entries=history(chosen, facts, ask.as_of),
            audit_id=audit_id,
        )

    async def _members_of_id(self, conn: Queryable, customer_id: str) -> tuple[str, list[str]]:
        """The survivor of a customer id and its family (``NotFound``)."""
        family = await family_of(conn, customer_id)
        if family is not None:
            return family.survivor, family.ids
        return await _alone(conn, customer_id)

    async def _members(self, conn: Queryable, key: str) -> tuple[str, list[str]]:
        """The survivor ``key`` (an id or an identifier) leads to and its family
        (``NotFound``, ``Ambiguous``)."""
        family = await self.family(conn, key)
        if family is not None:
            return family.survivor, family.ids
        if _written_identifier(key) is not None:
            raise NotFound(f"{key} leads to no customer")
        return await _alone(conn, key)

    # --- the access audit ----------------------------------------------------------------

    async def access_log(self, where: AccessFilter, limit: int) -> AccessLog:
        """Recorded reads, newest first (managers only: the route checks the role)."""
        rows = await audit_log.accesses(self.pool, where, limit=limit + 1)
        page = rows[:limit]
        return AccessLog(
            records=[AccessRecord.model_validate(r) for r in page],
            next_before_id=page[-1]["id"] if len(rows) > limit and page else None,
        )

    # --- shared ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[Connection]:
        """One transaction for a read and the audit record of what it served."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn


async def _alone(conn: Queryable, customer_id: str) -> tuple[str, list[str]]:
    """A customer id the identity graph does not know (yet) but a view does: a family of
    one (``NotFound`` if nothing knows it: the same 404 on every route)."""
    if await seen_in_views(conn, customer_id):
        return customer_id, [customer_id]
    raise NotFound(f"no customer {customer_id}")


async def _owns(conn: Queryable, caller: Caller, ids: list[str], ask: Disclosure) -> bool:
    """Does an agent revealing the restricted tier own the customer's relationship? (Only
    asked then: nobody else's reads depend on it.)"""
    if caller.role is not Role.AGENT or ask.reveal is not Tier.RESTRICTED:
        return False
    return await owner_of(conn, ids) == caller.name


async def _audit(
    conn: Queryable,
    caller: Caller,
    customer_id: str,
    endpoint: str,
    fields: list[str],
    ask: Disclosure,
    *,
    owns: bool = False,
) -> int:
    """Record a read of one customer: the fields it served above the essential tier
    (``profile.field`` names or ``type.path`` timeline paths) give its tier."""
    access = audit_log.Access(
        caller.name,
        caller.role.value,
        customer_id,
        endpoint,
        fields,
        ask.reason,
        ask.as_of,
        tier=highest_tier(fields),
        detail={"as": "relationship owner"} if owns else None,
    )
    return await audit_log.record(conn, access)


def _written_identifier(key: str) -> tuple[IdentifierKind, str] | None:
    """``(kind, raw)`` if ``key`` is written as an identifier (``email:…``, ``phone:…``)."""
    prefix, colon, raw = key.partition(":")
    kind = _KINDS.get(prefix) if colon else None
    return (kind, raw) if kind is not None else None


def _cursor(token: str | None, field: str) -> Cursor | None:
    try:
        return Cursor.decode(token) if token else None
    except InvalidCursor as exc:
        raise Unprocessable(field, str(exc)) from None
