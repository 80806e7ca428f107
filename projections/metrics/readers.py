"""The analytics as the API, the CLI and the charts ask for them: a report by name, over a
period, under the configured policy (suppression, thresholds, costs)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from projections.db import Queryable
from projections.metrics import queries
from projections.metrics.queries import Row


class Report(StrEnum):
    YEAR_ON_YEAR = "year-on-year"
    SEASONALITY = "seasonality"
    CAMPAIGNS = "campaigns"
    INTERESTS = "interests"
    SURVEY_PROBLEMS = "survey-problems"
    STAFF = "staff"
    CUSTOMERS = "customers"
    CROSS_REFERENCE = "cross-reference"
    TRIGGERS = "triggers"


@dataclass(frozen=True, slots=True)
class AnalyticsPolicy:
    """Settings ``analytics_*`` (touchlog/settings.py)."""

    min_cell_customers: int = 10
    change_threshold: float = 0.1
    lapse_days: int = 365
    conversion_days: int = 30
    campaign_costs: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a manager asks of a report; ``None`` is the report's default."""

    since: date | None = None
    until: date | None = None
    measure: str = "revenue"
    """Seasonality: which sum (``queries.SEASONAL_MEASURES``)."""
    kind: str | None = None
    """Campaigns: code, reference, phone_line or landing_url; all by default."""
    business_unit: str | None = None
    channel: str | None = None
    years: Sequence[int] = (1, 3, 5)


class Analytics:
    """Reports over ``conn`` (a pool in the API)."""

    def __init__(self, conn: Queryable, policy: AnalyticsPolicy | None = None) -> None:
        self.conn, self.policy = conn, policy or AnalyticsPolicy()

    async def report(self, report: Report, ask: Ask) -> list[Row]:
        since, until = queries.default_period(ask.until, ask.since)
        whole = ask.since or queries.years_before(until, max(ask.years, default=5) + 1)
        c, p = self.conn, self.policy
        match report:
            case Report.YEAR_ON_YEAR:
                return await queries.compare_periods(
                    c, since, until, years=ask.years, threshold=p.change_threshold,
                    business_unit=ask.business_unit, channel=ask.channel,
                )  # fmt: skip
            case Report.SEASONALITY:
                return await queries.seasonality(c, ask.measure, whole, until)
            case Report.CAMPAIGNS:
                return await queries.campaigns(c, whole, until, p.campaign_costs, ask.kind)
            case Report.INTERESTS:
                return await queries.interests(c, whole, until)
            case Report.SURVEY_PROBLEMS:
                return await queries.survey_problems(c, until)
            case Report.STAFF:
                return await queries.staff_sales(c, since, until)
            case Report.CUSTOMERS:
                return await queries.customers(c, since, until, p.lapse_days)
            case Report.CROSS_REFERENCE:
                return await queries.cross_reference(c, p.min_cell_customers)
            case Report.TRIGGERS:
                return await queries.trigger_conversions(c, since, until, p.conversion_days)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting so is a formula to a spreadsheet: topics, URLs and codes come from
channel systems, so such a cell is written with a leading apostrophe (OWASP's advice)."""


def _cell(value: object) -> object:
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def to_csv(rows: Sequence[Row]) -> str:
    """Rows as CSV, a header of the first row's keys; empty for no rows."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()
