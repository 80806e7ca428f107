"""The managers' analytics, answered from the rollups only: their cost grows with days,
campaigns, categories and customers, never with the number of events.

Each query returns rows (dicts of plain values): the API serves them as JSON, the CLI
prints them or writes CSV, the charts draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from projections.db import Queryable
from projections.metrics.fold import DAILY_MEASURES
from projections.metrics.postgres import (
    ACTIVE_MONTHS,
    BANDS,
    BOUGHT,
    CAMPAIGNS,
    CUSTOMERS,
    DAILY,
    INTERESTS,
    STAFF,
    TOPICS,
)
from projections.triggers.postgres import TABLE as TRIGGERS

Row = dict[str, Any]

SEASONAL_MEASURES = (
    "contacts",
    "new_customers",
    "purchases",
    "revenue",
    "complaints_opened",
    "surveys",
)
"""Sums that make sense per month of the year or per weekday."""


def years_before(day: date, years: int) -> date:
    """The same date ``years`` earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _ratio(part: Any, whole: Any, scale: int = 1) -> float | None:
    return None if not whole else round(float(part) * scale / float(whole), 4)


def _kpis(sums: Mapping[str, Any]) -> Row:
    """A period's figures: sums, and the averages and rates derived from them."""
    s = {m: sums[m] or 0 for m in DAILY_MEASURES}
    return {
        "contacts": s["contacts"],
        "new_customers": s["new_customers"],
        "purchases": s["purchases"],
        "revenue": float(s["revenue"]),
        "average_order": _ratio(s["revenue"], s["purchases"]),
        "complaints_opened": s["complaints_opened"],
        "complaints_resolved": s["complaints_resolved"],
        "hours_to_resolve": _ratio(s["resolve_seconds"], s["resolves_timed"] * 3600),
        "first_contact_resolution": _ratio(s["first_contact_resolutions"], s["resolves_timed"]),
        "surveys": s["surveys"],
        "average_rating": _ratio(s["rating_sum"], s["rating_count"]),
        "nps": _ratio(s["promoters"] - s["detractors"], s["nps_count"], 100),
    }


def _filters(business_unit: str | None, channel: str | None, first: int) -> tuple[str, list[Any]]:
    conditions, args = [], []
    for column, value in (("business_unit", business_unit), ("channel", channel)):
        if value is not None:
            args.append(value)
            conditions.append(f"AND d.{column} = ${first + len(args) - 1}")
    return " ".join(conditions), args


async def compare_periods(
    conn: Queryable,
    since: date,
    until: date,
    *,
    years: Sequence[int] = (1, 3, 5),
    threshold: float = 0.1,
    business_unit: str | None = None,
    channel: str | None = None,
) -> list[Row]:
    """Each figure of [since, until) beside the same period ``years`` earlier, with the
    relative change and a flag where it exceeds ``threshold`` either way."""
    starts = [since] + [years_before(since, y) for y in years]
    stops = [until] + [years_before(until, y) for y in years]
    where, extra = _filters(business_unit, channel, 4)
    sums = ", ".join(f"sum(d.{m}) AS {m}" for m in DAILY_MEASURES)
    rows = await conn.fetch(
        f"SELECT p.n, {sums} FROM unnest($1::date[], $2::date[], $3::int[]) AS p(start, stop, n) "
        f"LEFT JOIN {DAILY} d ON d.day >= p.start AND d.day < p.stop {where} "
        "GROUP BY p.n ORDER BY p.n",
        starts,
        stops,
        list(range(len(starts))),
        *extra,
    )
    current = _kpis(rows[0])
    out = []
    for n, back in enumerate(years, start=1):
        before = _kpis(rows[n])
        for metric, value in current.items():
            then = before[metric]
            change = _ratio((value or 0) - (then or 0), then)
            out.append(
                {
                    "metric": metric,
                    "years_back": back,
                    "this_period": value,
                    "then": then,
                    "change": change,
                    "flagged": change is not None and abs(change) > threshold,
                }
            )
    return out


async def seasonality(conn: Queryable, measure: str, since: date, until: date) -> list[Row]:
    """``measure`` per month of the year and per weekday, averaged over the years or weeks
    it covers, with its index against the average month or weekday (1.0 = average)."""
    if measure not in SEASONAL_MEASURES:
        raise ValueError(f"no seasonality for {measure!r}; one of {', '.join(SEASONAL_MEASURES)}")
    rows = await conn.fetch(
        f"""WITH days AS (SELECT day, sum({measure}) AS value FROM {DAILY}
                WHERE day >= $1 AND day < $2 GROUP BY day),
            by_month AS (SELECT 'month' AS by, extract(month FROM day)::int AS at,
                sum(value) / count(DISTINCT extract(year FROM day)) AS value
                FROM days GROUP BY 2),
            by_weekday AS (SELECT 'weekday' AS by, extract(isodow FROM day)::int AS at,
                sum(value) / count(*) AS value FROM days GROUP BY 2)
        SELECT by, at, value, value / avg(value) OVER (PARTITION BY by) AS index
        FROM (SELECT * FROM by_month UNION ALL SELECT * FROM by_weekday) s ORDER BY by, at""",
        since,
        until,
    )
    return [
        {
            "by": r["by"],
            "at": r["at"],
            "value": round(float(r["value"]), 2),
            "index": round(float(r["index"]), 3),
        }
        for r in rows
    ]


async def campaigns(
    conn: Queryable,
    since: date,
    until: date,
    costs: Mapping[str, Decimal],
    kind: str | None = None,
) -> list[Row]:
    """Per campaign code, reference, phone line and landing URL: responses, responders,
    buyers and the revenue of purchases within the attribution window; for a campaign code
    with a configured cost, the return on it."""
    rows = await conn.fetch(
        f"SELECT kind, key, sum(responses) AS responses, sum(responders) AS responders, "
        f"sum(buyers) AS buyers, sum(purchases) AS purchases, sum(revenue) AS revenue "
        f"FROM {CAMPAIGNS} WHERE month >= $1 AND month < $2 AND ($3::text IS NULL OR kind = $3) "
        "GROUP BY kind, key ORDER BY kind, sum(revenue) DESC, key",
        since,
        until,
        kind,
    )
    out = []
    for r in rows:
        cost = costs.get(r["key"]) if r["kind"] == "code" else None
        revenue = r["revenue"]
        out.append(
            {
                "kind": r["kind"],
                "key": r["key"],
                "responses": r["responses"],
                "responders": r["responders"],
                "buyers": r["buyers"],
                "buyer_rate": _ratio(r["buyers"], r["responders"]),
                "revenue": float(revenue),
                "cost": None if cost is None else float(cost),
                "return_on_cost": None if not cost else _ratio(revenue - cost, cost),
            }
        )
    return out


async def interests(conn: Queryable, since: date, until: date) -> list[Row]:
    """Per interest category, customers who declared or showed it (first time in the
    period) against those of them who then bought in it."""
    rows = await conn.fetch(
        f"SELECT category, sum(interested) AS interested, sum(converted) AS converted "
        f"FROM {INTERESTS} WHERE month >= $1 AND month < $2 GROUP BY category "
        "ORDER BY sum(interested) DESC, category",
        since,
        until,
    )
    return [
        {
            "category": r["category"],
            "interested": r["interested"],
            "converted": r["converted"],
            "conversion": _ratio(r["converted"], r["interested"]),
        }
        for r in rows
    ]


async def survey_problems(conn: Queryable, until: date, limit: int = 10) -> list[Row]:
    """The topics and products rated low most often in the year to ``until``, with their
    share of low ratings then and the year before (the trend)."""
    year_ago, two_years_ago = years_before(until, 1), years_before(until, 2)
    rows = await conn.fetch(
        f"""SELECT topic,
            sum(low) FILTER (WHERE month >= $2) AS low,
            sum(rated) FILTER (WHERE month >= $2) AS rated,
            sum(low) FILTER (WHERE month < $2) AS low_before,
            sum(rated) FILTER (WHERE month < $2) AS rated_before
        FROM {TOPICS} WHERE month >= $3 AND month < $1 GROUP BY topic
        ORDER BY 2 DESC NULLS LAST, topic LIMIT $4""",
        until,
        year_ago,
        two_years_ago,
        limit,
    )
    out = []
    for r in rows:
        share, before = _ratio(r["low"], r["rated"]), _ratio(r["low_before"], r["rated_before"])
        trend = None if share is None or before is None else round(share - before, 4)
        out.append(
            {"topic": r["topic"], "low": r["low"] or 0, "rated": r["rated"] or 0,
             "low_share": share, "low_share_year_before": before, "trend": trend}
        )  # fmt: skip
    return out


async def staff_sales(conn: Queryable, since: date, until: date) -> list[Row]:
    """Per store and agent named by events: contacts, sales and revenue."""
    rows = await conn.fetch(
        f"SELECT kind, staff_id, business_unit, sum(contacts) AS contacts, "
        f"sum(purchases) AS purchases, sum(revenue) AS revenue FROM {STAFF} "
        "WHERE month >= $1 AND month < $2 GROUP BY kind, staff_id, business_unit "
        "ORDER BY sum(revenue) DESC, sum(contacts) DESC, staff_id",
        since,
        until,
    )
    return [{**dict(r), "revenue": float(r["revenue"])} for r in rows]


async def customers(conn: Queryable, since: date, until: date, lapse_days: int) -> list[Row]:
    """Per month: new customers, active customers, and customers who lapsed (no contact
    for ``lapse_days``), counted in the month their silence reached that length."""
    rows = await conn.fetch(
        f"""WITH months AS (SELECT generate_series(date_trunc('month', $1::date),
                $2::date - 1, interval '1 month')::date AS month),
            new AS (SELECT date_trunc('month', day)::date AS month, sum(new_customers) AS n
                FROM {DAILY} WHERE day >= $1 AND day < $2 GROUP BY 1),
            lapsed AS (SELECT date_trunc('month', last_seen + $3 * interval '1 day')::date
                AS month, count(*) AS n FROM {CUSTOMERS}
                WHERE last_seen + $3 * interval '1 day' < $2::date
                  AND last_seen + $3 * interval '1 day' >= $1::date GROUP BY 1)
        SELECT m.month, coalesce(new.n, 0) AS new, coalesce(a.active, 0) AS active,
            coalesce(lapsed.n, 0) AS lapsed
        FROM months m LEFT JOIN new USING (month) LEFT JOIN {ACTIVE_MONTHS} a USING (month)
            LEFT JOIN lapsed USING (month) ORDER BY m.month""",
        since,
        until,
        lapse_days,
    )
    return [{**dict(r), "month": r["month"].isoformat(), "new": int(r["new"])} for r in rows]


async def cross_reference(conn: Queryable, min_customers: int) -> list[Row]:
    """Restricted bands (age, income) against spend and satisfaction. A cell of fewer than
    ``min_customers`` customers is suppressed: its figures, its count too, are withheld."""
    rows = await conn.fetch(
        f"SELECT age_band, income_band, customers, spend / customers AS spend, "
        f"rating_sum::numeric / nullif(rating_count, 0) AS satisfaction "
        f"FROM {BANDS} WHERE customers > 0 ORDER BY 1, 2"
    )
    out = []
    for r in rows:
        small = r["customers"] < min_customers
        out.append(
            {
                "age_band": r["age_band"],
                "income_band": r["income_band"],
                "suppressed": small,
                "customers": None if small else r["customers"],
                "average_spend": None if small else round(float(r["spend"]), 2),
                "satisfaction": None
                if small or r["satisfaction"] is None
                else round(float(r["satisfaction"]), 3),
            }
        )
    return out


async def trigger_conversions(
    conn: Queryable, since: date, until: date, within_days: int
) -> list[Row]:
    """Per marketing rule and offer: triggers sent (not suppressed) and suppressed in the
    period, and those sent that converted: the customer bought in the offered category
    within ``within_days`` calendar days of the trigger."""
    rows = await conn.fetch(
        f"""SELECT t.rule, t.offer,
            count(*) FILTER (WHERE t.suppressed IS NULL) AS sent,
            count(*) FILTER (WHERE t.suppressed IS NOT NULL) AS suppressed,
            count(*) FILTER (WHERE t.suppressed IS NULL AND EXISTS (
                SELECT 1 FROM {BOUGHT} b WHERE b.customer_id = t.customer_id
                AND b.category = t.offer AND b.day >= t.created_at::date
                AND b.day <= t.created_at::date + $3::int)) AS converted
        FROM {TRIGGERS} t WHERE t.kind = 'marketing' AND t.offer IS NOT NULL
            AND t.created_at >= $1 AND t.created_at < $2
        GROUP BY t.rule, t.offer ORDER BY 3 DESC, t.rule, t.offer""",
        since,
        until,
        within_days,
    )
    return [{**dict(r), "conversion": _ratio(r["converted"], r["sent"])} for r in rows]


def default_period(until: date | None, since: date | None) -> tuple[date, date]:
    """The year to ``until`` (today by default)."""
    end = until or date.today()  # noqa: DTZ011  # a calendar date, the manager's today
    return since or years_before(end, 1), end
