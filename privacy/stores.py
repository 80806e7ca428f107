"""Where personal data rests in PostgreSQL, read from the tables themselves.

Every table touchlog creates says in its DDL, by a ``COMMENT ON TABLE``, whether it holds
personal data and how a customer's rows are found and erased::

    touchlog:no-personal-data (why)
    touchlog:personal customer=<col>[,<col>] [action=delete|anonymise] [options]

How a customer's rows are found (one at least):

- ``customer=<col>,…`` a column holding the customer id (text, or text[]: any element);
- ``identifier=<col>`` an identity key (``email:ann@example.com``) of the customer;
- ``event=<source col>:<message col>`` one of the customer's events;
- ``trigger=<col>`` one of the customer's triggers;
- ``contains=<col>,…`` a column (bytea, text, jsonb) containing the customer id, one of
  their subject refs or identifiers (dead letters: raw records).

What ``action=anonymise`` does (``delete`` drops the rows):

- ``clear=<col>,…`` the column reads ``[erased]`` (text, jsonb, text[]);
- ``null=<col>,…`` the column becomes NULL;
- ``payload=<col>:<type col>`` the event payload's personal fields (per its type,
  ``privacy.sealing.personal_payload_fields``) read ``[erased]``, the rest is kept.

``at=<col>`` (with ``payload=``, or a table of events whose rows retention deletes, with
``type=<col>``): when the row's event occurred, for retention (``privacy.retention_sweep``).

The erasure (``privacy.erasure``) walks ``pg_catalog`` for every table in touchlog's schemas
(the default one and every view version's ``touchlog_*``) and refuses, before it changes
anything, while one table has no classification: a new table cannot hold personal data that
erasure forgets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from projections.db import Queryable

PERSONAL = "touchlog:personal"
NO_PERSONAL_DATA = "touchlog:no-personal-data"
ACTIONS = ("delete", "anonymise")
_LISTS = ("customer", "contains", "clear", "null")
_SINGLE = ("identifier", "trigger", "action", "at", "type")
_PAIRS = ("event", "payload")


class UnclassifiedTables(Exception):
    """Tables without a (valid) classification: nothing may be erased until they have one."""

    def __init__(
        self, problems: Sequence[str], refused: str = "erasure refused, nothing was changed"
    ) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{refused}: "
            + "; ".join(self.problems)
            + ". Classify each table in its DDL with COMMENT ON TABLE … IS "
            "'touchlog:personal customer=<column> [action=delete|anonymise]' or "
            "'touchlog:no-personal-data (why)' (privacy/stores.py)"
        )


@dataclass(frozen=True, slots=True)
class Classification:
    personal: bool
    why: str = ""
    customer: tuple[str, ...] = ()
    identifier: str | None = None
    event: tuple[str, str] | None = None
    trigger: str | None = None
    contains: tuple[str, ...] = ()
    action: str = "delete"
    clear: tuple[str, ...] = ()
    null: tuple[str, ...] = ()
    payload: tuple[str, str] | None = None
    at: str | None = None
    type: str | None = None

    def columns(self) -> set[str]:
        named = {*self.customer, *self.contains, *self.clear, *self.null}
        named |= {c for c in (self.identifier, self.trigger, self.at, self.type) if c}
        for pair in (self.event, self.payload):
            if pair:
                named |= set(pair)
        return named


def parse(comment: str | None) -> Classification:
    """A table's comment → its classification. Raises ``ValueError`` saying what is wrong."""
    text = (comment or "").strip()
    if text.startswith(NO_PERSONAL_DATA):
        why = text[len(NO_PERSONAL_DATA) :].strip()
        if not why:
            raise ValueError(f"'{NO_PERSONAL_DATA}' needs a reason in parentheses")
        return Classification(False, why=why)
    if not text.startswith(PERSONAL + " ") and text != PERSONAL:
        raise ValueError(
            "no classification comment"
            if not text
            else f"comment {text[:60]!r} is no classification"
        )
    options: dict[str, object] = {}
    for word in text[len(PERSONAL) :].split():
        name, sep, value = word.partition("=")
        if not sep or not value:
            raise ValueError(f"{word!r}: expected name=value")
        if name in _LISTS:
            options[name] = tuple(v for v in value.split(",") if v)
        elif name in _PAIRS:
            first, colon, second = value.partition(":")
            if not colon or not first or not second:
                raise ValueError(f"{name}={value}: expected {name}=<column>:<column>")
            options[name] = (first, second)
        elif name in _SINGLE:
            options[name] = value
        else:
            known = ", ".join((*_LISTS, *_PAIRS, *_SINGLE))
            raise ValueError(f"unknown option {name!r} (known: {known})")
    found = Classification(True, **options)  # type: ignore[arg-type]
    if found.action not in ACTIONS:
        raise ValueError(f"action={found.action}: expected one of {', '.join(ACTIONS)}")
    if not (found.customer or found.identifier or found.event or found.trigger or found.contains):
        raise ValueError(
            "a personal table needs customer=, identifier=, event=, trigger= or contains="
        )
    if found.action == "anonymise" and not (found.clear or found.null or found.payload):
        raise ValueError("action=anonymise needs clear=, null= or payload=")
    return found


@dataclass(frozen=True, slots=True)
class Store:
    """One table: where it is, its columns' types, its classification."""

    schema: str
    table: str
    classification: Classification
    column_types: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.table if self.schema == "public" else f"{self.schema}.{self.table}"

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.table}"'


_TABLES = """
SELECT n.nspname AS schema, c.relname AS table, obj_description(c.oid, 'pg_class') AS comment,
       (SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))
          FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND (n.nspname = 'public' OR n.nspname LIKE 'touchlog\\_%')
ORDER BY n.nspname, c.relname
"""


async def stores(db: Queryable) -> list[Store]:
    """Every table in touchlog's schemas with its classification. Raises
    ``UnclassifiedTables`` naming each table without a valid one (or naming a column it
    does not have)."""
    import json

    found: list[Store] = []
    problems: list[str] = []
    for row in await db.fetch(_TABLES):
        columns: dict[str, str] = json.loads(row["columns"]) if row["columns"] else {}
        name = row["table"] if row["schema"] == "public" else f"{row['schema']}.{row['table']}"
        try:
            classification = parse(row["comment"])
        except ValueError as exc:
            problems.append(f"table {name}: {exc}")
            continue
        missing = sorted(classification.columns() - set(columns))
        if missing:
            problems.append(f"table {name}: its classification names no such column {missing}")
            continue
        found.append(Store(row["schema"], row["table"], classification, columns))
    if problems:
        raise UnclassifiedTables(problems)
    return found
