"""The customer information file over HTTP: a profile as of any moment, a field's history.

What a caller sees depends on its role (``projections.profile.access``); every service
or restricted value served is recorded in the access audit before the response leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.auth import Caller, CurrentCaller, refused
from api.deps import Pool
from events import Tier
from projections.db import Queryable
from projections.identity import postgres as identity
from projections.profile import Section, audit_log, by_section, field_named, history, profile_of
from projections.profile import access as policy
from projections.profile import postgres as store

router = APIRouter(tags=["profile"])

AsOf = Annotated[
    datetime | None,
    Query(description="The profile as it was then (ISO 8601 with an offset); default: now."),
]
Reveal = Annotated[
    Tier | None,
    Query(description="An agent may reveal the service tier of one customer, with a reason."),
]
Reason = Annotated[
    str | None,
    Query(min_length=3, max_length=500, description="Why: recorded in the access audit."),
]


class ProfileResponse(BaseModel):
    customer_id: str
    """The surviving customer: the one asked for, or the one it was merged into."""
    merged_ids: list[str]
    as_of: datetime | None
    read_at: datetime
    role: str
    essential: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    restricted: dict[str, Any] | None = None
    consents: dict[str, Any] | None = None
    """Purpose/channel (``*``: every channel) → status, legal basis, how and when given."""
    withheld: dict[str, list[str]]
    """Tier → fields not served to this role (names only)."""
    audit_id: int | None = None


class HistoryItem(BaseModel):
    value: Any
    valid_from: datetime
    valid_to: datetime | None
    source_system: str
    message_id: str
    event_type: str


class HistoryResponse(BaseModel):
    customer_id: str
    field: str
    tier: str
    entries: list[HistoryItem]
    audit_id: int | None = None


def _unprocessable(parameter: str, message: str) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )


def _checked(
    caller: Caller, as_of: datetime | None, reveal: Tier | None, reason: str | None
) -> None:
    if as_of is not None and as_of.tzinfo is None:
        raise _unprocessable("as_of", "needs a timezone offset, e.g. 2026-03-01T09:00:00Z")
    try:
        policy.check_reveal(caller.role, reveal)
    except policy.Refused as exc:
        raise refused(exc) from None
    if reveal is not None and caller.role is policy.Role.AGENT and not reason:
        raise _unprocessable("reason", "revealing a tier needs a reason (it is audited)")


async def customer_family(conn: Queryable, customer_id: str) -> tuple[str, list[str]]:
    """The surviving customer and every id merged into it; 404 if nobody."""
    survivor = await identity.survivor_of(conn, customer_id)
    if survivor is not None:
        return survivor, await identity.merged_ids(conn, survivor)
    if await store.has_facts(conn, customer_id):
        return customer_id, [customer_id]  # known to the profile before the identity graph
    raise HTTPException(status_code=404, detail=f"no customer {customer_id}")


async def _audit(
    pool: Queryable,
    caller: Caller,
    customer_id: str,
    endpoint: str,
    fields: list[str],
    reason: str | None,
    as_of: datetime | None,
) -> int | None:
    if not fields:
        return None
    access = audit_log.Access(
        caller.name, caller.role.value, customer_id, endpoint, fields, reason, as_of
    )
    return await audit_log.record(pool, access)


@router.get("/customers/{customer_id}/profile", response_model_exclude_none=True)
async def profile(
    customer_id: str,
    pool: Pool,
    caller: CurrentCaller,
    as_of: AsOf = None,
    reveal: Reveal = None,
    reason: Reason = None,
) -> ProfileResponse:
    """The profile, as of now or ``as_of``, with the tiers the caller's role may see."""
    _checked(caller, as_of, reveal, reason)
    survivor, ids = await customer_family(pool, customer_id)
    read_at = datetime.now(UTC)
    current = profile_of(await store.load_facts(pool, ids, as_of), as_of, read_at)
    try:
        visible = policy.visible_profile(current, caller.role, reveal)
    except policy.Refused as exc:
        raise refused(exc) from None
    audit_id = await _audit(pool, caller, survivor, "profile", visible.audited(), reason, as_of)
    sections = by_section(visible.values)
    return ProfileResponse(
        customer_id=survivor,
        merged_ids=ids,
        as_of=as_of,
        read_at=read_at,
        role=caller.role.value,
        **{
            section.value: values["consents"] if section is Section.CONSENTS else values
            for section, values in sections.items()
        },
        withheld=visible.withheld,
        audit_id=audit_id,
    )


@router.get("/customers/{customer_id}/profile/history")
async def profile_history(
    customer_id: str,
    pool: Pool,
    caller: CurrentCaller,
    field: Annotated[str, Query(description="A profile field, e.g. addresses (or address).")],
    as_of: AsOf = None,
    reveal: Reveal = None,
    reason: Reason = None,
) -> HistoryResponse:
    """Every value a field took, oldest first: value, valid from, valid to, source event."""
    _checked(caller, as_of, reveal, reason)
    chosen = field_named(field)
    if chosen is None:
        raise _unprocessable("field", f"no profile field {field!r}")
    if chosen.time_only:
        raise _unprocessable("field", f"{chosen.name} changes with time alone: it has no history")
    try:
        policy.history_allowed(chosen, caller.role, reveal)
    except policy.Refused as exc:
        raise refused(exc) from None
    survivor, ids = await customer_family(pool, customer_id)
    entries = history(chosen, await store.load_facts(pool, ids, as_of), as_of)
    sensitive = [chosen.name] if chosen.tier is not Tier.ESSENTIAL else []
    audit_id = await _audit(pool, caller, survivor, "profile.history", sensitive, reason, as_of)
    return HistoryResponse(
        customer_id=survivor,
        field=chosen.name,
        tier=chosen.tier.value,
        entries=[HistoryItem.model_validate(e, from_attributes=True) for e in entries],
        audit_id=audit_id,
    )
