"""The metrics' PostgreSQL tables and how a batch is written to them.

Rollups are sums, so applying an event twice would count it twice: ``metrics_seen_v1``
remembers every event applied (by source and message id), and only the events a batch's
``INSERT … ON CONFLICT DO NOTHING RETURNING`` reports as new are folded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from events import Touchpoint
from events.resolved import Resolved
from projections.db import Connection, copy_insert
from projections.metrics.facts import Fact, fact_of
from projections.metrics.fold import (
    DAILY_MEASURES,
    CaseState,
    CustomerState,
    Increments,
    MetricsFold,
)
from projections.view import ViewHooks

SEEN = "metrics_seen_v1"
DAILY = "metrics_daily_v1"
CAMPAIGNS = "metrics_campaigns_v1"
INTERESTS = "metrics_interests_v1"
TOPICS = "metrics_topics_v1"
STAFF = "metrics_staff_v1"
ACTIVE = "metrics_active_v1"
ACTIVE_MONTHS = "metrics_active_months_v1"
CUSTOMERS = "metrics_customers_v1"
CASES = "metrics_cases_v1"
BOUGHT = "metrics_bought_v1"
BANDS = "metrics_bands_v1"

_SUMS = {
    DAILY: (("day", "business_unit", "channel", "type"), DAILY_MEASURES),
    CAMPAIGNS: (
        ("month", "kind", "key"),
        ("responses", "responders", "purchases", "buyers", "revenue"),
    ),
    INTERESTS: (("month", "category"), ("interested", "converted")),
    TOPICS: (("month", "topic"), ("rated", "low")),
    STAFF: (("month", "business_unit", "kind", "staff_id"), ("contacts", "purchases", "revenue")),
    BANDS: (("age_band", "income_band"), ("customers", "spend", "rating_sum", "rating_count")),
}
"""Each rollup: its key columns, its summed columns."""

_KEY_TYPES = {"day": "date", "month": "date"}
_SUM_TYPES = {"revenue": "numeric(18, 2)", "spend": "numeric(18, 2)", "resolve_seconds": "bigint"}


def _rollup_ddl(table: str) -> str:
    keys, sums = _SUMS[table]
    columns = [f"{k} {_KEY_TYPES.get(k, 'text')} NOT NULL" for k in keys]
    columns += [f"{s} {_SUM_TYPES.get(s, 'integer')} NOT NULL DEFAULT 0" for s in sums]
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)}, "
        f"PRIMARY KEY ({', '.join(keys)}));"
    )


def _no_personal_data(table: str, why: str) -> str:
    return f"COMMENT ON TABLE {table} IS 'touchlog:no-personal-data ({why})';"


SCHEMA = "\n".join(
    [
        f"CREATE TABLE IF NOT EXISTS {SEEN} (source_system text NOT NULL, "
        "message_id text NOT NULL, PRIMARY KEY (source_system, message_id));",
        *(_rollup_ddl(table) for table in _SUMS),
        f"CREATE INDEX IF NOT EXISTS {DAILY}_by_day ON {DAILY} (day);",
        f"CREATE TABLE IF NOT EXISTS {ACTIVE} (month date NOT NULL, customer_id text NOT NULL, "
        "PRIMARY KEY (month, customer_id));",
        f"CREATE TABLE IF NOT EXISTS {ACTIVE_MONTHS} (month date PRIMARY KEY, "
        "active integer NOT NULL DEFAULT 0);",
        f"""CREATE TABLE IF NOT EXISTS {CUSTOMERS} (
            customer_id text PRIMARY KEY, first_seen timestamptz NOT NULL,
            last_seen timestamptz NOT NULL, age_band text, income_band text,
            spend numeric(18, 2) NOT NULL, purchases integer NOT NULL,
            rating_sum integer NOT NULL, rating_count integer NOT NULL,
            interests jsonb NOT NULL, converted jsonb NOT NULL, responses jsonb NOT NULL);""",
        f"CREATE INDEX IF NOT EXISTS {CUSTOMERS}_first_seen ON {CUSTOMERS} (first_seen);",
        f"CREATE INDEX IF NOT EXISTS {CUSTOMERS}_last_seen ON {CUSTOMERS} (last_seen);",
        f"CREATE TABLE IF NOT EXISTS {CASES} (case_id text PRIMARY KEY, opened_at timestamptz, "
        "touches integer NOT NULL, resolved boolean NOT NULL);",
        f"CREATE TABLE IF NOT EXISTS {BOUGHT} (customer_id text NOT NULL, category text NOT NULL, "
        "day date NOT NULL, PRIMARY KEY (customer_id, category, day));",
        # How erasure finds and erases a customer's rows (privacy/stores.py).
        *(_no_personal_data(table, "sums") for table in (*_SUMS, ACTIVE_MONTHS)),
        _no_personal_data(SEEN, "ids of the events applied"),
        _no_personal_data(CASES, "case ids and counts"),
        f"COMMENT ON TABLE {ACTIVE} IS 'touchlog:personal customer=customer_id action=delete';",
        f"COMMENT ON TABLE {BOUGHT} IS 'touchlog:personal customer=customer_id action=delete';",
        f"COMMENT ON TABLE {CUSTOMERS} IS 'touchlog:personal customer=customer_id "
        "action=anonymise null=age_band,income_band';",
    ]
)

_CUSTOMER_COLUMNS = (
    "customer_id",
    "first_seen",
    "last_seen",
    "age_band",
    "income_band",
    "spend",
    "purchases",
    "rating_sum",
    "rating_count",
    "interests",
    "converted",
    "responses",
)


def _replace_all(keys: Sequence[str], columns: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
    return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


class MetricsView(ViewHooks):
    """The metrics as the projection runner sees them: facts out of a batch (pure), then
    the new ones folded into the rollups inside the runner's transaction."""

    name = "metrics_v1"
    schema = (SCHEMA,)

    def __init__(self, attribution_days: int = 30) -> None:
        self.fold = MetricsFold(timedelta(days=attribution_days))

    def changes(self, events: Sequence[Touchpoint | Resolved]) -> list[Fact]:
        facts: dict[tuple[str, str], Fact] = {}
        for event in events:
            fact = fact_of(event)
            if fact is not None:
                facts.setdefault(fact.identity(), fact)
        return list(facts.values())

    async def write(self, conn: Connection, facts: list[Fact]) -> None:
        new = await _unseen(conn, facts)
        if not new:
            return
        customers = await _customers(conn, {f.customer_id for f in new})
        cases = await _cases(conn, {f.case_id for f in new if f.case_id is not None})
        changes = self.fold.fold(new, customers, cases)
        for table, increments in (
            (DAILY, changes.daily),
            (CAMPAIGNS, changes.campaigns),
            (INTERESTS, changes.interests),
            (TOPICS, changes.topics),
            (STAFF, changes.staff),
            (BANDS, changes.bands),
        ):
            await _add(conn, table, increments)
        await _count_active(conn, changes.active)
        await _remember_bought(conn, changes.bought)
        await _save_customers(conn, changes.customers)
        await _save_cases(conn, changes.cases)

    async def apply(self, conn: Connection, events: Sequence[Touchpoint | Resolved]) -> None:
        """Project and write in one go (tests and one-off loads)."""
        await self.write(conn, self.changes(events))


async def _unseen(conn: Connection, facts: list[Fact]) -> list[Fact]:
    """The facts never applied before, now remembered as applied."""
    if not facts:
        return []
    rows = await conn.fetch(
        f"INSERT INTO {SEEN} (source_system, message_id) "
        "SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING "
        "RETURNING source_system, message_id",
        [f.source_system for f in facts],
        [f.message_id for f in facts],
    )
    fresh = {(r["source_system"], r["message_id"]) for r in rows}
    return [f for f in facts if f.identity() in fresh]


async def _customers(conn: Connection, ids: set[str]) -> dict[str, CustomerState]:
    rows = await conn.fetch(
        f"SELECT * FROM {CUSTOMERS} WHERE customer_id = ANY($1::text[])", list(ids)
    )
    return {
        r["customer_id"]: CustomerState(
            first_seen=r["first_seen"],
            last_seen=r["last_seen"],
            age_band=r["age_band"],
            income_band=r["income_band"],
            spend=r["spend"],
            purchases=r["purchases"],
            rating_sum=r["rating_sum"],
            rating_count=r["rating_count"],
            interests=json.loads(r["interests"]),
            converted=json.loads(r["converted"]),
            responses=json.loads(r["responses"]),
        )
        for r in rows
    }


async def _cases(conn: Connection, ids: set[str]) -> dict[str, CaseState]:
    if not ids:
        return {}
    rows = await conn.fetch(f"SELECT * FROM {CASES} WHERE case_id = ANY($1::text[])", list(ids))
    return {r["case_id"]: CaseState(r["opened_at"], r["touches"], r["resolved"]) for r in rows}


async def _add(conn: Connection, table: str, increments: Increments) -> None:
    if not increments:
        return
    keys, sums = _SUMS[table]
    rows = [(*key, *(counts.get(s, 0) for s in sums)) for key, counts in increments.items()]
    adds = ", ".join(f"{s} = {table}.{s} + EXCLUDED.{s}" for s in sums)
    await copy_insert(
        conn, table, (*keys, *sums), rows, f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    )


async def _count_active(conn: Connection, active: set[tuple[Any, str]]) -> None:
    """Each customer once per month: the months' counts grow by the pairs new here."""
    if not active:
        return
    await conn.execute(
        f"""WITH fresh AS (
            INSERT INTO {ACTIVE} (month, customer_id)
            SELECT * FROM unnest($1::date[], $2::text[]) ON CONFLICT DO NOTHING
            RETURNING month)
        INSERT INTO {ACTIVE_MONTHS} (month, active)
        SELECT month, count(*) FROM fresh GROUP BY month
        ON CONFLICT (month) DO UPDATE SET active = {ACTIVE_MONTHS}.active + EXCLUDED.active""",
        [month for month, _ in active],
        [customer for _, customer in active],
    )


async def _remember_bought(conn: Connection, bought: set[tuple[str, str, Any]]) -> None:
    if bought:
        customers, categories, days = zip(*bought, strict=True)
        await conn.execute(
            f"INSERT INTO {BOUGHT} (customer_id, category, day) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::date[]) ON CONFLICT DO NOTHING",
            list(customers),
            list(categories),
            list(days),
        )


async def _save_customers(conn: Connection, customers: dict[str, CustomerState]) -> None:
    rows = [
        (
            customer_id,
            c.first_seen,
            c.last_seen,
            c.age_band,
            c.income_band,
            Decimal(c.spend),
            c.purchases,
            c.rating_sum,
            c.rating_count,
            json.dumps(c.interests),
            json.dumps(c.converted),
            json.dumps(c.responses),
        )
        for customer_id, c in customers.items()
    ]
    await copy_insert(
        conn, CUSTOMERS, _CUSTOMER_COLUMNS, rows, _replace_all(["customer_id"], _CUSTOMER_COLUMNS)
    )


async def _save_cases(conn: Connection, cases: dict[str, CaseState]) -> None:
    columns = ("case_id", "opened_at", "touches", "resolved")
    rows = [(k, c.opened_at, c.touches, c.resolved) for k, c in cases.items()]
    await copy_insert(conn, CASES, columns, rows, _replace_all(["case_id"], columns))
