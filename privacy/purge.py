"""Finding a customer's rows in every classified table, and purging or anonymising them.

``privacy.stores`` says which tables hold personal data and how a customer's rows are
found; this module turns that into SQL: ``family_of`` (the customer and everyone merged
into it, in every identity version), ``gather`` (their subject refs, identifiers, events
and triggers), ``erase_in`` (one table's rows deleted or anonymised). ``purge_again``
runs the purge once more for customers erased lately (the retention sweep calls it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.catalogue import EVENT_TYPES
from privacy import subjects
from privacy.sealing import ERASED, personal_payload_fields
from privacy.stores import Store, stores
from projections.db import Connection, Queryable


class UnknownCustomer(LookupError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id!r}: no such customer in the identity graph")
        self.customer_id = customer_id


@dataclass(frozen=True, slots=True)
class StoreErased:
    """One store and what the erasure did there."""

    store: str
    kind: str
    """``table``, ``topic``, ``key store`` or ``key cache``."""
    action: str
    rows: int | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """What leads to the customer's rows, gathered before anything changes."""

    customers: list[str]
    refs: list[str]
    identifiers: list[str]
    events: list[tuple[str, str]]
    triggers: list[str]

    @property
    def exact(self) -> list[str]:
        return [*self.customers, *self.refs, *self.identifiers, *_values(self.identifiers)]

    @property
    def inside(self) -> list[str]:
        """What marks the customer inside a raw record (a dead letter's key or value)."""
        quoted = [json.dumps(v) for v in (*self.customers, *_values(self.identifiers))]
        return [*quoted, *(f"tlx1.{ref}_" for ref in self.refs)]


def _values(identifiers: Sequence[str]) -> list[str]:
    """``email:ann@example.com`` → ``ann@example.com`` (how the identifier is written)."""
    return [i.split(":", 1)[1] for i in identifiers if ":" in i]


async def family_of(conn: Queryable, found: Sequence[Store], customer_id: str) -> list[str]:
    """The customer (the survivor, if ``customer_id`` was merged into another) first, then
    every customer merged into it, in every version of the identity graph."""
    graphs = [s for s in found if s.table == "identity_customers"]
    roots: list[str] = []
    for graph in graphs:
        roots += [
            r["customer_id"]
            for r in await conn.fetch(
                f"WITH RECURSIVE up AS (SELECT customer_id, merged_into FROM {graph.qualified} "
                "WHERE customer_id = $1 UNION SELECT c.customer_id, c.merged_into "
                f"FROM {graph.qualified} c JOIN up ON c.customer_id = up.merged_into) "
                "SELECT customer_id FROM up WHERE merged_into IS NULL",
                customer_id,
            )
        ]
    if not roots:
        raise UnknownCustomer(customer_id)
    # The live graph decides when versions disagree; the others add who they merged.
    root = customer_id if customer_id in roots else roots[0]
    family = {root: None} | dict.fromkeys(roots)
    for graph in graphs:
        for r in await conn.fetch(
            f"WITH RECURSIVE down AS (SELECT customer_id FROM {graph.qualified} "
            "WHERE customer_id = ANY($1::text[]) UNION SELECT c.customer_id "
            f"FROM {graph.qualified} c JOIN down ON c.merged_into = down.customer_id) "
            "SELECT customer_id FROM down ORDER BY customer_id",
            list(family),
        ):
            family.setdefault(r["customer_id"], None)
    return list(family)


async def gather(conn: Queryable, found: Sequence[Store], customers: list[str]) -> Found:
    """Subject refs, identifiers, events and triggers of the customers, from every store."""
    refs = await subjects.refs_of(conn, customers)
    identifiers: set[str] = set()
    events: set[tuple[str, str]] = set()
    triggers: set[str] = set()
    for store in found:
        c = store.classification
        if not c.personal or not c.customer:
            continue
        where = _customer_condition(store, 1)
        if store.table == "identity_links":
            rows = await conn.fetch(
                f"SELECT identifier FROM {store.qualified} WHERE {where}", customers
            )
            identifiers |= {r["identifier"] for r in rows}
        if {"source_system", "message_id"} <= set(store.column_types):
            rows = await conn.fetch(
                f"SELECT DISTINCT source_system, message_id FROM {store.qualified} WHERE {where}",
                customers,
            )
            events |= {(r["source_system"], r["message_id"]) for r in rows}
        if "trigger_id" in store.column_types:
            rows = await conn.fetch(
                f"SELECT trigger_id FROM {store.qualified} WHERE {where}", customers
            )
            triggers |= {r["trigger_id"] for r in rows}
    return Found(customers, refs, sorted(identifiers), sorted(events), sorted(triggers))


def _customer_condition(store: Store, param: int) -> str:
    parts = []
    for column in store.classification.customer:
        if store.column_types[column].endswith("[]"):
            parts.append(f'"{column}" && ${param}::text[]')
        else:
            parts.append(f'"{column}" = ANY(${param}::text[])')
    return "(" + " OR ".join(parts) + ")"


def _contains(store: Store, column: str, exact: int, inside: int) -> str:
    kind = store.column_types[column]
    if kind == "bytea":
        return (
            f"(\"{column}\" = ANY(SELECT convert_to(x, 'UTF8') FROM unnest(${exact}::text[]) x) "
            f"OR EXISTS (SELECT 1 FROM unnest(${inside}::text[]) s "
            f"WHERE position(convert_to(s, 'UTF8') in \"{column}\") > 0))"
        )
    as_text = f'"{column}"::text'
    return (
        f"({as_text} = ANY(${exact}::text[]) OR EXISTS (SELECT 1 FROM unnest(${inside}::text[]) s "
        f"WHERE strpos({as_text}, s) > 0))"
    )


def where_of(store: Store, found: Found) -> tuple[str, list[Any]]:
    """The rows of ``store`` that are the customer's, and the query's arguments."""
    c = store.classification
    args: list[Any] = []
    parts: list[str] = []

    def arg(value: Any) -> int:
        args.append(value)
        return len(args)

    if c.customer:
        parts.append(_customer_condition(store, arg(found.customers)))
    if c.identifier:
        parts.append(f'"{c.identifier}" = ANY(${arg(found.identifiers)}::text[])')
    if c.event:
        source, message = c.event
        sources, messages = arg([e[0] for e in found.events]), arg([e[1] for e in found.events])
        parts.append(
            f'("{source}", "{message}") IN '
            f"(SELECT * FROM unnest(${sources}::text[], ${messages}::text[]))"
        )
    if c.trigger:
        parts.append(f'"{c.trigger}" = ANY(${arg(found.triggers)}::text[])')
    if c.contains:
        exact, inside = arg(found.exact), arg(found.inside)
        parts += [_contains(store, column, exact, inside) for column in c.contains]
    return " OR ".join(parts), args


def erased_sql(kind: str) -> str:
    if kind == "jsonb" or kind == "json":
        return f"to_jsonb('{ERASED}'::text)"
    if kind.endswith("[]"):
        return f"ARRAY['{ERASED}']"
    return f"'{ERASED}'"


def payload_fields() -> tuple[list[str], list[str]]:
    """(type names, their personal payload fields comma-joined): the SQL's lookup table."""
    names = list(EVENT_TYPES)
    return names, [",".join(personal_payload_fields(n)) for n in names]


def anonymised(store: Store, first: int) -> tuple[list[str], list[Any]]:
    """SET clauses of an anonymisation, and their arguments (numbered from ``first``)."""
    c = store.classification
    sets = [f'"{col}" = {erased_sql(store.column_types[col])}' for col in c.clear]
    sets += [f'"{col}" = NULL' for col in c.null]
    args: list[Any] = []
    if c.payload:
        column, type_column = c.payload
        names, fields = payload_fields()
        args = [names, fields]
        fields_of_type = (
            f"string_to_array((SELECT f FROM unnest(${first}::text[], ${first + 1}::text[]) "
            f"AS t(n, f) WHERE t.n = \"{type_column}\"), ',')"
        )
        sets.append(
            f'"{column}" = "{column}" || coalesce((SELECT jsonb_object_agg(k, '
            f'{erased_sql("jsonb")}) FROM jsonb_object_keys("{column}") k '
            f"WHERE \"{column}\" -> k <> 'null'::jsonb AND k = ANY({fields_of_type})), "
            "'{}'::jsonb)"
        )
    return sets, args


def not_yet(store: Store) -> str:
    """`` AND`` the row is not anonymised yet (judged by its ``clear=`` and ``null=``
    columns), so that anonymising again changes and counts nothing."""
    c = store.classification
    fresh = [f'"{col}" IS DISTINCT FROM {erased_sql(store.column_types[col])}' for col in c.clear]
    fresh += [f'"{col}" IS NOT NULL' for col in c.null]
    return f" AND ({' OR '.join(fresh)})" if fresh else ""


async def purge_again(conn: Connection, since: datetime) -> int:
    """Purge once more the customers erased since ``since``: what a process wrote for them
    with a data key it had cached before the erasure (``key_cache_seconds``) goes too.
    The rows changed (the retention sweep runs it)."""
    if not await conn.fetchval("SELECT to_regclass('privacy_receipts') IS NOT NULL"):
        return 0
    erased = await conn.fetch(
        "SELECT customer_id, receipt->'merged_customer_ids' AS merged FROM privacy_receipts "
        "WHERE erased_at >= $1",
        since,
    )
    if not erased:
        return 0
    found_stores = await stores(conn)
    changed = 0
    for row in erased:
        family = [row["customer_id"], *json.loads(row["merged"] or "[]")]
        found = await gather(conn, found_stores, family)
        for store in found_stores:
            if store.classification.personal:
                changed += (await erase_in(conn, store, found)).rows or 0
    return changed


async def erase_in(conn: Connection, store: Store, found: Found) -> StoreErased:
    c = store.classification
    if not c.personal:
        return StoreErased(store.name, "table", f"kept: no personal data {c.why}")
    where, args = where_of(store, found)
    if c.action == "delete":
        result = await conn.execute(f"DELETE FROM {store.qualified} WHERE {where}", *args)
        rows = int(result.split()[-1])
        return StoreErased(store.name, "table", f"{rows} rows deleted", rows)
    sets, more = anonymised(store, len(args) + 1)
    result = await conn.execute(
        f"UPDATE {store.qualified} SET {', '.join(sets)} WHERE ({where}){not_yet(store)}",
        *args,
        *more,
    )
    rows = int(result.split()[-1])
    read = [*c.clear, *([f"personal fields of {c.payload[0]}"] if c.payload else [])]
    what = [f"{', '.join(read)} read {ERASED}"] if read else []
    what += [f"{', '.join(c.null)} emptied"] if c.null else []
    return StoreErased(store.name, "table", f"{rows} rows anonymised ({'; '.join(what)})", rows)
