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
from events.touchpoints import CustomerMerged, CustomerSplit
from projections.audiences import membership
from projections.audiences.families import Families, Regrouped
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
FAMILIES = "audience_families_v1"
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
CREATE TABLE IF NOT EXISTS {FAMILIES} (
    customer_id  text  PRIMARY KEY,
    merged_into  text  NOT NULL
);
CREATE INDEX IF NOT EXISTS {FAMILIES}_into ON {FAMILIES} (merged_into);
COMMENT ON TABLE {FAMILIES} IS 'touchlog:personal customer=customer_id action=delete';
COMMENT ON TABLE {DEFINITIONS} IS 'touchlog:no-personal-data (audience definitions)';
COMMENT ON TABLE {TRAITS} IS 'touchlog:personal customer=customer_id action=delete';
COMMENT ON TABLE {MEMBERS} IS 'touchlog:personal customer=customer_id action=delete';
COMMENT ON TABLE {OUTBOX} IS 'touchlog:personal customer=customer_id action=delete';
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
COMMENT ON TABLE {PUBLISHED} IS 'touchlog:no-personal-data (ids of published records)';
COMMENT ON TABLE {LIST_AUDIT} IS 'touchlog:no-personal-data (who took which list)';
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
    families: Families = field(default_factory=Families)

    def view_of(self, customer: str) -> Traits:
        """What audiences read of a customer: its family's traits."""
        return self.families.traits_of(customer, self.traits)


SHOWN_KINDS = frozenset({"name", "title", "emails", "phones", "addresses", "consent", "complaint"})


def fold_batch(
    rules: Audiences,
    happened: Sequence[Happened | Regrouped],
    traits: dict[str, Traits],
    standings: dict[str, dict[str, Standing]],
    families: Families | None = None,
) -> Folded:
    """Pure: each event in order, each customer's membership after each of its events.
    ``traits`` are each id's own; a family's survivor is evaluated on its family's
    (``families``, holding every family the batch touches, whole)."""
    folded = Folded(traits, standings, families=families or Families())
    for event in happened:
        if isinstance(event, Regrouped):
            _regroup(rules, folded, event)
            continue
        held = traits.setdefault(event.customer_id, Traits())
        root = folded.families.root(event.customer_id)
        for fact in event.facts:
            held.apply(fact)
            if fact.kind in SHOWN_KINDS:
                folded.shown.add(root)
        _evaluate(rules, folded, root, event.at, event.caused_by)
    return folded


def _evaluate(rules: Audiences, folded: Folded, root: str, at: datetime, caused_by: str) -> None:
    standing = folded.standings.setdefault(root, {})
    changed = membership.step(rules, folded.view_of(root), standing, root, at, caused_by)
    if changed:
        folded.transitions += changed
        folded.shown.add(root)


def _regroup(rules: Audiences, folded: Folded, event: Regrouped) -> None:
    """A merge: the merged ids leave every audience, the survivor is evaluated on what the
    family now knows. A split: both families are evaluated again."""
    families = folded.families
    if event.kind == "merged":
        for merged in families.merge(event.survivor, event.others):
            gone = folded.standings.setdefault(merged, {})
            exits = membership.leave_all(gone, merged, event.at, event.caused_by)
            folded.transitions += exits
            folded.shown.add(merged)
            # anything merged into it earlier stays out: it follows its survivor
        _evaluate(rules, folded, families.root(event.survivor), event.at, event.caused_by)
        folded.shown.add(families.root(event.survivor))
        return
    [new] = event.others
    if families.split(event.survivor, new):
        for customer in (families.root(event.survivor), new):
            _evaluate(rules, folded, customer, event.at, event.caused_by)
            folded.shown.add(customer)


class AudienceView(ViewHooks):
    """Audience membership as the projection runner sees it."""

    name = MEMBERS
    schema = (SCHEMA,)
    shared_schema = (SHARED_SCHEMA,)

    def __init__(self, audiences: Audiences = NO_AUDIENCES) -> None:
        self.audiences = audiences
        self._applied: tuple[str, Audiences] | None = None

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> list[Happened | Regrouped]:
        happened: list[Happened | Regrouped] = []
        for item in events:
            event, customer = (
                (item.event, item.customer_id) if isinstance(item, Resolved) else (item, None)
            )
            regrouped = _regrouped(event)
            if regrouped is not None:
                happened.append(regrouped)
                continue
            facts = project(event, customer)
            if facts:
                source = f"{event.source.system}/{event.message_id}"
                happened.append(Happened(facts[0].customer_id, facts, event.occurred_at, source))
        return happened

    async def write(self, conn: Connection, happened: list[Happened | Regrouped]) -> None:
        if not happened:
            return
        rules = await self._definitions(conn)
        touched: set[str] = set()
        for h in happened:
            touched.update(
                (h.survivor, *h.others) if isinstance(h, Regrouped) else (h.customer_id,)
            )
        families = await _families(conn, sorted(touched))
        customers = sorted(touched | set(families.parents) | set(families.parents.values()))
        folded = fold_batch(rules, happened, *await _load(conn, customers), families)
        await _write_families(conn, folded.families)
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


def _regrouped(event: Touchpoint) -> Regrouped | None:
    source = f"{event.source.system}/{event.message_id}"
    if isinstance(event, CustomerMerged):
        p = event.payload
        return Regrouped(
            "merged", p.surviving_customer_id, p.merged_customer_ids, event.occurred_at, source
        )
    if isinstance(event, CustomerSplit):
        q = event.payload
        return Regrouped(
            "split", q.original_customer_id, (q.new_customer_id,), event.occurred_at, source
        )
    return None


async def _families(conn: Connection, customers: list[str]) -> Families:
    """The whole families of these customers: up to each survivor, then down to every id
    merged into it (a level per round trip; most customers have no family: two)."""
    parents: dict[str, str] = {}
    asked: set[str] = set()
    frontier = set(customers)
    while frontier:  # up
        asked |= frontier
        rows = await conn.fetch(
            f"SELECT customer_id, merged_into FROM {FAMILIES} WHERE customer_id = ANY($1::text[])",
            sorted(frontier),
        )
        parents.update((r["customer_id"], r["merged_into"]) for r in rows)
        frontier = {r["merged_into"] for r in rows} - asked
    frontier, asked = set(asked), set()
    while frontier:  # down
        asked |= frontier
        rows = await conn.fetch(
            f"SELECT customer_id, merged_into FROM {FAMILIES} WHERE merged_into = ANY($1::text[])",
            sorted(frontier),
        )
        parents.update((r["customer_id"], r["merged_into"]) for r in rows)
        frontier = {r["customer_id"] for r in rows} - asked
    return Families(parents)


async def _write_families(conn: Connection, families: Families) -> None:
    if not families.changed:
        return
    changed = sorted(families.changed)
    await conn.execute(f"DELETE FROM {FAMILIES} WHERE customer_id = ANY($1::text[])", changed)
    await copy_insert(
        conn,
        FAMILIES,
        ("customer_id", "merged_into"),
        [(c, families.parents[c]) for c in changed if c in families.parents],
    )


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
        standings, traits = folded.standings.get(customer, {}), folded.view_of(customer)
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
