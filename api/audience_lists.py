"""Consented contact lists for marketing: who may take which audience's list, on which
channel, and the record of every take (who, when, which list, how many customers).

The lists themselves are the audiences view's (``projections.audiences.queries``): only
members who granted the audience's purpose on the channel and have no open complaint,
with the name and the channel's contact detail.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import asyncpg

from api import audit_log
from api.audience_schemas import (
    AudienceCatalogue,
    AudienceSummary,
    Member,
    MemberList,
    NextBestOffers,
    Recommendation,
)
from api.auth import Caller
from api.errors import NotFound, Unprocessable
from api.known_customers import seen_in_views
from api.roles import Refused, Role
from projections.audiences import queries
from projections.audiences.rules import Audience
from projections.db import Queryable
from projections.identity.family import family_of
from projections.recommendations.postgres import categories_of, recommended

MAY_TAKE_LISTS = frozenset({Role.MARKETING, Role.MANAGER})
EXPORT_PAGE = 5000
CSV_COLUMNS = {
    "email": ("email",),
    "sms": ("phone",),
    "phone": ("phone",),
    "mail": ("address_lines", "locality", "region", "postal_code", "country"),
    "app": (),
}


def _check(caller: Caller) -> None:
    if caller.role not in MAY_TAKE_LISTS:
        raise Refused(f"the {caller.role.value} role may not take audience lists; marketing may")


@dataclass(frozen=True)
class AudienceLists:
    pool: asyncpg.Pool

    async def catalogue(self, caller: Caller) -> AudienceCatalogue:
        _check(caller)
        definitions = await queries.live_definitions(self.pool)
        audiences = definitions.audiences if definitions else []
        return AudienceCatalogue(
            audiences=[
                AudienceSummary(
                    name=a.name,
                    description=a.description,
                    purpose=a.purpose.value,
                    channels=list(a.channels),
                )
                for a in audiences
            ]
        )

    async def _audience(self, name: str, channel: str) -> Audience:
        definitions = await queries.live_definitions(self.pool)
        audience = definitions.named(name) if definitions else None
        if audience is None:
            raise NotFound(f"no audience {name}")
        if channel not in audience.channels:
            allowed = ", ".join(audience.channels)
            raise Unprocessable("channel", f"audience {name} is contacted on {allowed} only")
        return audience

    async def page(
        self, caller: Caller, name: str, channel: str, cursor: str | None, limit: int
    ) -> MemberList:
        """One page of the list, recorded as taken (with the customers it held)."""
        _check(caller)
        await self._audience(name, channel)
        async with self.pool.acquire() as conn, conn.transaction():
            page = await queries.member_page(conn, name, channel, cursor, limit)
            audit_id = await queries.record_taken(
                conn, caller.name, caller.role.value, name, channel, "page", len(page.members)
            )
            await _audited(conn, caller, [m["customer_id"] for m in page.members], name, channel)
        return MemberList(
            audience=name,
            channel=channel,
            members=[Member.model_validate(m) for m in page.members],
            next_cursor=page.next_after,
            audit_id=audit_id,
        )

    async def export(self, caller: Caller, name: str, channel: str) -> str:
        """The whole list as CSV, recorded as taken (with the customers it held)."""
        _check(caller)
        await self._audience(name, channel)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ("customer_id", "title", "given_name", "family_name", *CSV_COLUMNS[channel])
        )
        count, after, taken = 0, None, []
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            while True:
                page = await queries.member_page(conn, name, channel, after, EXPORT_PAGE)
                writer.writerows(_csv_row(m, channel) for m in page.members)
                count += len(page.members)
                taken += [m["customer_id"] for m in page.members]
                if page.next_after is None:
                    break
                after = page.next_after
            await queries.record_taken(
                conn, caller.name, caller.role.value, name, channel, "csv", count
            )
            await _audited(conn, caller, taken, name, channel)
        return out.getvalue()


async def _audited(
    conn: Queryable, caller: Caller, customers: list[str], name: str, channel: str
) -> None:
    """A take is a read of every customer it lists (essential contact details)."""
    await audit_log.record_access(
        conn,
        actor=caller.name,
        role=caller.role.value,
        action="audience-list",
        customer_ids=customers,
        tier="essential",
        reason=None,
        detail={"audience": name, "channel": channel},
    )


def _csv_row(member: dict[str, Any], channel: str) -> list[Any]:
    name = member["name"]
    row = [member["customer_id"], name["title"], name["given_name"], name["family_name"]]
    if channel == "email":
        row.append(member["email"])
    elif channel in ("sms", "phone"):
        row.append(member["phone"])
    elif channel == "mail":
        address = member["address"]
        row.append(" / ".join(address.get("lines") or ()))
        row += [address.get(k) for k in ("locality", "region", "postal_code", "country")]
    return row


MIN_CUSTOMERS = 5
"""The fewest customers who bought both categories for a co-purchase rule to count."""


@dataclass(frozen=True)
class NextBestOffer:
    """What a rep may offer a customer: the categories their purchases' co-buyers bought
    and they have not (``projections.recommendations``), never what they bought."""

    pool: asyncpg.Pool

    async def offers(self, caller: Caller, customer_id: str, limit: int) -> NextBestOffers:
        if caller.role not in (Role.AGENT, Role.MANAGER):
            raise Refused(f"the {caller.role.value} role has no access to next best offers")
        family = await family_of(self.pool, customer_id)
        if family is None and not await seen_in_views(self.pool, customer_id):
            raise NotFound(f"no customer {customer_id}")
        ids = family.ids if family is not None else [customer_id]
        bought = await categories_of(self.pool, ids)
        found = await recommended(self.pool, bought, min_customers=MIN_CUSTOMERS, limit=limit)
        await audit_log.record(
            self.pool,
            audit_log.Access(caller.name, caller.role.value, customer_id, "next-best-offers", []),
        )
        return NextBestOffers(
            customer_id=customer_id, offers=[Recommendation.model_validate(r) for r in found]
        )
