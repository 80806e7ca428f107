"""``GET /audit/data`` and ``touchlog audit``: the data inventory (seed 002's questions:
what customer information exists, where it is held, who has access and how it is used).

The counts come from the views (``projections.inventory``), who read what from the
access audit; this module only puts them side by side. Managers only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from api import audit_log
from api.roles import Role
from projections.db import Queryable
from projections.inventory import STORES
from projections.inventory.postgres import sources


class TypeInventory(BaseModel):
    type: str
    events: int
    customers: int
    first_seen: datetime
    last_seen: datetime
    fields: dict[str, list[str]]
    """Tier → the payload fields the type collects (dotted paths)."""


class TypeReader(BaseModel):
    who: str
    role: str
    tier: str
    reads: int
    """Reads that served this source's event types' fields of that tier."""


class SourceInventory(BaseModel):
    source_system: str
    business_unit: str
    events: int
    customers: int
    first_seen: datetime | None
    last_seen: datetime | None
    consent_coverage: float | None
    """Share of this source's customers with a consent record (0 to 1)."""
    customers_with_consent: int
    event_types: list[TypeInventory]
    readers: list[TypeReader]
    """Who read service or restricted fields of the types this source sent."""


class Reader(BaseModel):
    who: str
    role: str
    tier: str
    reads: int
    customers: int
    last_read: datetime


class DataInventory(BaseModel):
    generated_at: datetime
    sources: list[SourceInventory]
    readers: list[Reader]
    """Who read service or restricted data (any route), how often, of how many customers."""
    roles: dict[str, str]
    """Who may read what, by role."""
    stores: dict[str, str]
    """Where customer data is kept in PostgreSQL (besides the log itself)."""


ROLES = {role.value: (role.__doc__ or "").strip() for role in Role}


async def inventory(conn: Queryable) -> DataInventory:
    found = await sources(conn)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in await audit_log.readers_by_type(conn):
        by_type[row["type"]].append(row)
    return DataInventory(
        generated_at=datetime.now(UTC),
        sources=[SourceInventory.model_validate(s.as_dict(by_type)) for s in found],
        readers=[Reader.model_validate(r) for r in await audit_log.readers(conn)],
        roles=ROLES,
        stores=STORES,
    )


def as_text(report: DataInventory) -> str:
    """The inventory for a terminal: one block per source, then who read what."""
    lines = [f"Data inventory, {report.generated_at:%Y-%m-%d %H:%M} UTC", ""]
    if not report.sources:
        lines.append("(no events in the timeline view yet)")
    for source in report.sources:
        lines += _source_lines(source)
    lines.append("Who read service or restricted data:")
    lines += [
        f"  {r.who} ({r.role}): {r.reads} reads of the {r.tier} tier, {r.customers} "
        f"customers, last {r.last_read:%Y-%m-%d %H:%M}"
        for r in report.readers
    ] or ["  nobody yet"]
    return "\n".join(lines)


def _source_lines(source: SourceInventory) -> list[str]:
    coverage = f"{source.consent_coverage:.0%}" if source.consent_coverage is not None else "-"
    seen = (
        f"{source.first_seen:%Y-%m-%d} to {source.last_seen:%Y-%m-%d}"
        if source.first_seen and source.last_seen
        else "never"
    )
    lines = [
        f"{source.source_system} / {source.business_unit}: {source.events} events, "
        f"{source.customers} customers, consent coverage {coverage}, {seen}"
    ]
    for kind in source.event_types:
        tiers = "; ".join(f"{t}: {', '.join(paths)}" for t, paths in kind.fields.items())
        lines.append(f"  {kind.type}: {kind.events} events, {kind.customers} customers. {tiers}")
    lines += [
        f"  read by {r.who} ({r.role}): {r.reads} reads of the {r.tier} tier"
        for r in source.readers
    ]
    return [*lines, ""]
