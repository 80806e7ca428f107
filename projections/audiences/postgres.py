"""The audiences' PostgreSQL tables: traits, membership, the outbox of entries and exits.

A batch loads the traits and standings of the customers it touches, folds each event in
order (``projections.audiences.membership.step``), and writes traits, members and the
outbox rows of every entry and exit in the runner's transaction, beside the offsets. The
outbox is published by ``projections.audiences.outbox``; ``audience_published`` (shared by
every version) remembers what went out, so a rebuilt version republishes nothing the
topic already holds.

A version applies the definitions it was built with (``audience_definitions_v1``, written
by its first batch): changing the file changes nothing until a rebuild goes live.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from events import Touchpoint
from events.resolved import Resolved
from projections.audiences import membership
from projections.audiences.membership import Standing, Transition
from projections.audiences.rules import NO_AUDIENCES, Audiences
from projections.audiences.traits import Traits
from projections.db import Connection, copy_insert
from projections.profile.facts import Fact, project
from projections.view import ViewHooks

log = structlog.get_logger()

DEFINITIONS = "audience_definitions_v1"
TRAITS = "audience_traits_v1"
MEMBERS = "audience_members_v1"
OUTBOX = "audience_outbox_v1"
PUBLISHED = "audience_published"
LIST_AUDIT = "audience_list_audit"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {DEFINITIONS} (
    id           int   PRIMARY KEY CHECK (id = 1),
    fingerprint  text  NOT NULL,
    document     jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS {TRAITS} (
    customer_id  text  PRIMARY KEY,
    traits       text  NOT NULL
);
CREATE TABLE IF NOT EXISTS {MEMBERS} (
    audience        text        NOT NULL,
    customer_id     text        NOT NULL,
    member          boolean     NOT NULL,
    changes         int         NOT NULL,
    since           timestamptz,
    name            jsonb       NOT NULL,
    contact         jsonb       NOT NULL,
    consented       jsonb       NOT NULL,
    open_complaint  boolean     NOT NULL,
    PRIMARY KEY (audience, customer_id)
);
CREATE INDEX IF NOT EXISTS {MEMBERS}_listed ON {MEMBERS} (audience, customer_id) WHERE member;
CREATE INDEX IF NOT EXISTS {MEMBERS}_customer ON {MEMBERS} (customer_id);
CREATE TABLE IF NOT EXISTS {OUTBOX} (
    id           text        PRIMARY KEY,
    seq          bigserial   NOT NULL,
    customer_id  text        NOT NULL,
    record       bytea       NOT NULL,
    published    boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS {OUTBOX}_pending ON {OUTBOX} (seq) WHERE NOT published;
"""

SHARED_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {PUBLISHED} (
    id            text        PRIMARY KEY,
    published_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {LIST_AUDIT} (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    who        text        NOT NULL,
    role       text        NOT NULL,
    audience   text        NOT NULL,
    channel    text        NOT NULL,
    format     text        NOT NULL,
    customers  int         NOT NULL
);
"""
"""Shared by every version: what went out on the topic, and who took which member list."""

_MEMBER_COLUMNS = (
    "audience",
    "customer_id",
    "member",
    "changes",
    "since",
    "name",
    "contact",
    "consented",
    "open_complaint",
)
_UPSERT_MEMBERS = (
    "ON CONFLICT (audience, customer_id) DO UPDATE SET member = EXCLUDED.member, "
    "changes = EXCLUDED.changes, since = EXCLUDED.since, name = EXCLUDED.name, "
    "contact = EXCLUDED.contact, consented = EXCLUDED.consented, "
    "open_complaint = EXCLUDED.open_complaint"
)


@dataclass(frozen=True, slots=True)
class Happened:
    """One event, as audiences see it: whose, what it states, which it was."""

    customer_id: str
    facts: list[Fact]
    at: datetime
    caused_by: str


@dataclass(slots=True)
class Folded:
    """A batch folded: each touched customer's traits and standings, every transition."""

    traits: dict[str, Traits] = field(default_factory=dict)
    standings: dict[str, dict[str, Standing]] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)
    """Customers whose membership rows change: a change of standing, or of what a list
    shows (name, contact details, consents, complaints)."""


SHOWN_KINDS = frozenset({"name", "title", "emails", "phones", "addresses", "consent", "complaint"})


def fold_batch(
    rules: Audiences,
    happened: Sequence[Happened],
    traits: dict[str, Traits],
    standings: dict[str, dict[str, Standing]],
) -> Folded:
    """Pure: each event in order, each customer's membership after each of its events."""
    folded = Folded(traits, standings)
    for event in happened:
        held = traits.setdefault(event.customer_id, Traits())
        for fact in event.facts:
            held.apply(fact)
            if fact.kind in SHOWN_KINDS:
                folded.shown.add(event.customer_id)
        changed = membership.step(
            rules,
            held,
            standings.setdefault(event.customer_id, {}),
            event.customer_id,
            event.at,
            event.caused_by,
        )
        if changed:
            folded.transitions += changed
            folded.shown.add(event.customer_id)
    return folded


class AudienceView(ViewHooks):
    """Audience membership as the projection runner sees it."""

    name = MEMBERS
    schema = (SCHEMA,)
    shared_schema = (SHARED_SCHEMA,)

    def __init__(self, audiences: Audiences = NO_AUDIENCES) -> None:
        self.audiences = audiences
        self._applied: tuple[str, Audiences] | None = None

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> list[Happened]:
        happened = []
        for item in events:
            event, customer = (
                (item.event, item.customer_id) if isinstance(item, Resolved) else (item, None)
            )
            facts = project(event, customer)
            if facts:
                source = f"{event.source.system}/{event.message_id}"
                happened.append(Happened(facts[0].customer_id, facts, event.occurred_at, source))
        return happened

    async def write(self, conn: Connection, happened: list[Happened]) -> None:
        if not happened:
            return
        rules = await self._definitions(conn)
        customers = sorted({h.customer_id for h in happened})
        folded = fold_batch(rules, happened, *await _load(conn, customers))
        await copy_insert(
            conn,
            TRAITS,
            ("customer_id", "traits"),
            [(c, t.to_json()) for c, t in folded.traits.items()],
            "ON CONFLICT (customer_id) DO UPDATE SET traits = EXCLUDED.traits",
        )
        await copy_insert(
            conn, MEMBERS, _MEMBER_COLUMNS, _member_rows(rules, folded), _UPSERT_MEMBERS
        )
        await copy_insert(
            conn,
            OUTBOX,
            ("id", "customer_id", "record"),
            [(t.id, t.customer_id, t.record()) for t in folded.transitions],
        )

    async def _definitions(self, conn: Connection) -> Audiences:
        """The definitions this version was built with (its first batch stores ours)."""
        mine = self.audiences.fingerprint()
        await conn.execute(
            f"INSERT INTO {DEFINITIONS} (id, fingerprint, document) VALUES (1, $1, $2::jsonb) "
            "ON CONFLICT DO NOTHING",
            mine,
            self.audiences.model_dump_json(),
        )
        row = await conn.fetchrow(f"SELECT fingerprint, document::text FROM {DEFINITIONS}")
        if row is None:  # inserted above: only a concurrent drop of the row gets here
            raise RuntimeError(f"{DEFINITIONS} holds no definitions")
        if self._applied is None or self._applied[0] != row["fingerprint"]:
            stored = Audiences.model_validate_json(row["document"])
            if row["fingerprint"] != mine:
                log.warning(
                    "audience_definitions_differ",
                    applied=row["fingerprint"],
                    configured=mine,
                    effect="this version keeps the definitions it was built with",
                    fix="touchlog projections rebuild audiences",
                )
            self._applied = (row["fingerprint"], stored)
        return self._applied[1]

    def reset(self) -> None:
        self._applied = None


async def _load(
    conn: Connection, customers: list[str]
) -> tuple[dict[str, Traits], dict[str, dict[str, Standing]]]:
    traits = {
        r["customer_id"]: Traits.from_json(r["traits"])
        for r in await conn.fetch(
            f"SELECT customer_id, traits FROM {TRAITS} WHERE customer_id = ANY($1::text[])",
            customers,
        )
    }
    standings: dict[str, dict[str, Standing]] = {}
    for r in await conn.fetch(
        f"SELECT audience, customer_id, member, changes, since FROM {MEMBERS} "
        "WHERE customer_id = ANY($1::text[])",
        customers,
    ):
        standings.setdefault(r["customer_id"], {})[r["audience"]] = Standing(
            r["member"], r["changes"], r["since"]
        )
    return traits, standings


def _member_rows(rules: Audiences, folded: Folded) -> list[tuple[Any, ...]]:
    """Every standing of a touched customer, with what a member list shows (nothing for
    someone no longer a member)."""
    rows = []
    for customer in sorted(folded.shown):
        standings, traits = folded.standings[customer], folded.traits[customer]
        for audience in rules.audiences:
            standing = standings.get(audience.name)
            if standing is None or (standing.changes == 0):
                continue
            channels = audience.channels
            shown = standing.member
            rows.append(
                (
                    audience.name,
                    customer,
                    standing.member,
                    standing.changes,
                    standing.since,
                    json.dumps(membership.name_of(traits) if shown else {}),
                    json.dumps(membership.contact_details(traits, channels) if shown else {}),
                    json.dumps(membership.consented(traits, audience) if shown else {}),
                    traits.open_complaint(),
                )
            )
    return rows
