"""Right of access: everything touchlog knows about a customer, as JSON, decrypted.

Read from the read models, which hold what the events stated once opened (their sealed
fields read ``[erased]`` once erased or past retention): the profile with its history,
the timeline, the consents, the identity links and merges, the triggers and what people
did with them, the erasures, and every recorded read of the customer's data (the access
audit). Each fact names its source event (``source_system`` and ``message_id``). The
export is itself a read of the restricted tier: it is recorded in the access audit before
anything is read, so it lists itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiokafka.errors import KafkaError

from api.audit_log import AccessFilter, accesses, record_access
from privacy.erasure import UnknownCustomer
from projections.db import Connection

FORMAT = "touchlog.export/1"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _rows(rows: Any, *, jsonb: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        item = dict(row)
        for name in jsonb:
            if isinstance(item.get(name), str):
                item[name] = json.loads(item[name])
        found.append(_plain(item))
    return found


async def family(conn: Connection, customer_id: str) -> list[str]:
    """The customer (the survivor of ``customer_id``), then every customer merged into it,
    in the live identity graph."""
    roots = await conn.fetch(
        "WITH RECURSIVE up AS (SELECT customer_id, merged_into FROM identity_customers "
        "WHERE customer_id = $1 UNION SELECT c.customer_id, c.merged_into "
        "FROM identity_customers c JOIN up ON c.customer_id = up.merged_into) "
        "SELECT customer_id FROM up WHERE merged_into IS NULL",
        customer_id,
    )
    if not roots:
        raise UnknownCustomer(customer_id)
    root = roots[0]["customer_id"]
    merged = await conn.fetch(
        "WITH RECURSIVE down AS (SELECT customer_id FROM identity_customers "
        "WHERE merged_into = $1 UNION SELECT c.customer_id FROM identity_customers c "
        "JOIN down ON c.merged_into = down.customer_id) "
        "SELECT customer_id FROM down ORDER BY customer_id",
        root,
    )
    return [root, *(r["customer_id"] for r in merged)]


History = Callable[[Sequence[str]], Awaitable[list[dict[str, Any]]]]
"""The identity events of these customers, read from the log (``privacy.log_history``)."""


async def export(
    conn: Connection,
    customer_id: str,
    *,
    who: str,
    role: str,
    reason: str | None = None,
    history: History | None = None,
) -> dict[str, Any]:
    """The customer's data as a JSON-able document (``conn``: one connection; the audit
    record and the reads share its transaction). ``history``: reads the identity events
    only the log holds in full (None: the document says it was not read). Raises
    ``UnknownCustomer``."""
    async with conn.transaction():
        ids = await family(conn, customer_id)
        audit_id = await record_access(
            conn,
            actor=who,
            role=role,
            action="export",
            customer_ids=ids,
            tier="restricted",
            reason=reason or "right of access (export)",
            detail={"format": FORMAT},
        )
        facts = _rows(
            await conn.fetch(
                "SELECT kind, key, value, occurred_at, event_type, source_system, message_id, "
                "customer_id FROM profile_facts_v1 WHERE customer_id = ANY($1::text[]) "
                "ORDER BY occurred_at, source_system, message_id, kind, key",
                ids,
            ),
            jsonb=("value",),
        )
        timeline = _rows(
            await conn.fetch(
                "SELECT occurred_at, type, channel, business_unit, summary, payload, "
                "campaign_code, source_system, message_id, subject_key AS customer_id "
                "FROM timeline_v1 WHERE subject_key = ANY($1::text[]) "
                "ORDER BY occurred_at, source_system, message_id",
                ids,
            ),
            jsonb=("payload",),
        )
        links = _rows(
            await conn.fetch(
                "SELECT identifier, customer_id, linked_at, source_system, message_id "
                "FROM identity_links WHERE customer_id = ANY($1::text[]) "
                "ORDER BY linked_at, identifier",
                ids,
            )
        )
        merges = _rows(
            await conn.fetch(
                "SELECT survivor, merged, reason, merged_at, message_id FROM identity_merges "
                "WHERE survivor = ANY($1::text[]) OR merged = ANY($1::text[]) "
                "ORDER BY merged_at",
                ids,
            )
        )
        triggers = _rows(
            await conn.fetch(
                "SELECT trigger_id, customer_id, rule, rule_type, kind, audience, channel, "
                "reason, evidence AS source_message_ids, offer, created_at, expires_at, "
                "suppressed, suppressed_reason, status, status_changed_at "
                "FROM triggers_v1 WHERE customer_id = ANY($1::text[]) ORDER BY created_at",
                ids,
            )
        )
        actions = _rows(
            await conn.fetch(
                "SELECT trigger_id, action, actor, role, note, at FROM trigger_actions "
                "WHERE trigger_id = ANY($1::text[]) ORDER BY at, id",
                [t["trigger_id"] for t in triggers],
            )
        )
        erasures = _rows(
            await conn.fetch(
                "SELECT receipt_id, customer_id, erased_at, erased_by, reason "
                "FROM privacy_receipts WHERE customer_id = ANY($1::text[]) ORDER BY erased_at",
                ids,
            )
            if await conn.fetchval("SELECT to_regclass('privacy_receipts') IS NOT NULL")
            else []
        )
        audit: dict[int, dict[str, Any]] = {}
        for one in ids:
            for entry in await accesses(conn, AccessFilter(customer_id=one), limit=100_000):
                audit[entry["id"]] = _plain(entry)
    identity_history: list[dict[str, Any]] | None = None
    history_error = None if history is not None else "no log reader in this process"
    if history is not None:
        try:
            identity_history = await history(ids)
        except (KafkaError, OSError, TimeoutError) as exc:  # the rest is still the answer
            history_error = f"the log could not be read: {exc!r}"
    by_action: dict[str, list[dict[str, Any]]] = {}
    for a in actions:
        by_action.setdefault(a["trigger_id"], []).append(a)
    return {
        "format": FORMAT,
        "customer_id": ids[0],
        "merged_customer_ids": ids[1:],
        "export_audit_id": audit_id,
        "profile": {
            "current": _current(facts),
            "history": facts,
        },
        "consents": [f for f in facts if f["kind"] == "consent"],
        "timeline": timeline,
        "identity": {
            "links": links,
            "merges": merges,
            "history": identity_history,
            "history_read_from_log": identity_history is not None,
            "history_error": history_error,
        },
        "triggers": [t | {"actions": by_action.get(t["trigger_id"], [])} for t in triggers],
        "erasures": erasures,
        "access_audit": sorted(audit.values(), key=lambda e: e["id"]),
    }


def _current(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest value of each fact (kind, and key for kinds held per item)."""
    current: dict[str, Any] = {}
    for fact in facts:  # oldest first: the last one wins
        name = f"{fact['kind']}:{fact['key']}" if fact["key"] else fact["kind"]
        current[name] = {
            "value": fact["value"],
            "occurred_at": fact["occurred_at"],
            "source_system": fact["source_system"],
            "message_id": fact["message_id"],
        }
    return current
