"""The metrics' pure fold: (customers' and cases' state, new facts) → increments.

Rollups are sums, so a batch adds its increments to the stored ones; the state carries
what a later event needs from an earlier one: when a customer was first seen, which
interests and campaign responses are waiting for a purchase, when a complaint opened.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from projections.metrics.facts import Fact

DAILY_MEASURES = (
    "contacts",
    "new_customers",
    "purchases",
    "revenue",
    "complaints_opened",
    "complaints_resolved",
    "resolve_seconds",
    "resolves_timed",
    "first_contact_resolutions",
    "surveys",
    "rating_sum",
    "rating_count",
    "nps_count",
    "promoters",
    "detractors",
)
"""Columns of the daily rollup, each a sum."""

Number = int | Decimal
Increments = defaultdict[tuple[object, ...], Counter[str]]


def month_of(day: date | datetime) -> date:
    return date(day.year, day.month, 1)


@dataclass
class CustomerState:
    first_seen: datetime
    last_seen: datetime
    age_band: str | None = None
    income_band: str | None = None
    spend: Decimal = Decimal(0)
    purchases: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    interests: dict[str, str] = field(default_factory=dict)
    """Category → month (ISO date) the interest was first declared or shown."""
    converted: list[str] = field(default_factory=list)
    """Categories bought after the interest."""
    responses: dict[str, list[str | bool]] = field(default_factory=dict)
    """``kind\\tkey`` → [last response (ISO), month of the first (ISO), bought]."""


@dataclass
class CaseState:
    opened_at: datetime | None = None
    touches: int = 0
    """Updates and escalations: a case resolved with none was resolved at first contact."""
    resolved: bool = False


@dataclass
class MetricsChanges:
    """What a batch adds: each table's increments, and the state it leaves."""

    daily: Increments = field(default_factory=lambda: defaultdict(Counter))
    campaigns: Increments = field(default_factory=lambda: defaultdict(Counter))
    interests: Increments = field(default_factory=lambda: defaultdict(Counter))
    topics: Increments = field(default_factory=lambda: defaultdict(Counter))
    staff: Increments = field(default_factory=lambda: defaultdict(Counter))
    bands: Increments = field(default_factory=lambda: defaultdict(Counter))
    """Per (age band, income band): customers, spend, ratings; a customer who moves to
    other bands, or spends, leaves their old contribution (negative) for the new one."""
    active: set[tuple[date, str]] = field(default_factory=set)
    bought: set[tuple[str, str, date]] = field(default_factory=set)
    """(customer, category, day) of purchases: what a trigger's offer converts into."""
    customers: dict[str, CustomerState] = field(default_factory=dict)
    cases: dict[str, CaseState] = field(default_factory=dict)


UNKNOWN_BAND = "unknown"


def _contribute(bands: Increments, customer: CustomerState, sign: int) -> None:
    cell = bands[(customer.age_band or UNKNOWN_BAND, customer.income_band or UNKNOWN_BAND)]
    cell["customers"] += sign
    cell["spend"] += sign * customer.spend  # type: ignore[assignment]
    cell["rating_sum"] += sign * customer.rating_sum
    cell["rating_count"] += sign * customer.rating_count


@dataclass(frozen=True, slots=True)
class MetricsFold:
    attribution: timedelta = timedelta(days=30)
    """A purchase within this time of a campaign response is the campaign's."""

    def fold(
        self,
        facts: Iterable[Fact],
        customers: dict[str, CustomerState],
        cases: dict[str, CaseState],
    ) -> MetricsChanges:
        """Increments of ``facts`` (new ones only: the caller dropped those seen before),
        applied in time order on top of the stored state, which is updated in place."""
        out = MetricsChanges(customers=customers, cases=cases)
        for customer in customers.values():
            _contribute(out.bands, customer, -1)
        for fact in sorted(facts, key=lambda f: (f.occurred_at, f.message_id)):
            self._apply(out, fact)
        for customer in customers.values():
            _contribute(out.bands, customer, 1)
        return out

    def _apply(self, out: MetricsChanges, fact: Fact) -> None:
        cell = out.daily[(fact.day, fact.business_unit, fact.channel, fact.type)]
        cell["contacts"] += 1
        customer = out.customers.get(fact.customer_id)
        if customer is None:
            customer = out.customers[fact.customer_id] = CustomerState(
                fact.occurred_at, fact.occurred_at
            )
            cell["new_customers"] += 1
        customer.first_seen = min(customer.first_seen, fact.occurred_at)
        customer.last_seen = max(customer.last_seen, fact.occurred_at)
        month = month_of(fact.day)
        out.active.add((month, fact.customer_id))
        customer.age_band = fact.age_band or customer.age_band
        customer.income_band = fact.income_band or customer.income_band
        self._responses(out, customer, fact, month)
        self._interests(out, customer, fact, month)
        if fact.revenue is not None:
            self._purchase(out, customer, fact, fact.revenue)
        if fact.case_id is not None:
            self._complaint(out, cell, fact)
        if fact.ratings or fact.nps is not None:
            self._survey(customer, cell, fact)
        for topic in fact.rated_topics:
            out.topics[(month, topic)]["rated"] += 1
        for topic in fact.low_topics:
            out.topics[(month, topic)]["low"] += 1
        if fact.staff is not None:
            staff = out.staff[(month, fact.business_unit, *fact.staff)]
            staff["contacts"] += 1
            if fact.revenue is not None:
                staff["purchases"] += 1
                staff["revenue"] += fact.revenue  # type: ignore[assignment]

    @staticmethod
    def _responses(out: MetricsChanges, customer: CustomerState, fact: Fact, month: date) -> None:
        for kind, key in fact.responses:
            name = f"{kind}\t{key}"
            known = customer.responses.get(name)
            if known is None:
                customer.responses[name] = [fact.occurred_at.isoformat(), month.isoformat(), False]
                out.campaigns[(month, kind, key)]["responders"] += 1
            else:
                known[0] = fact.occurred_at.isoformat()
            out.campaigns[(month, kind, key)]["responses"] += 1

    @staticmethod
    def _interests(out: MetricsChanges, customer: CustomerState, fact: Fact, month: date) -> None:
        for category in fact.interests:
            if category not in customer.interests:
                customer.interests[category] = month.isoformat()
                out.interests[(month, category)]["interested"] += 1

    def _purchase(
        self, out: MetricsChanges, customer: CustomerState, fact: Fact, revenue: Decimal
    ) -> None:
        cell = out.daily[(fact.day, fact.business_unit, fact.channel, fact.type)]
        cell["purchases"] += 1
        cell["revenue"] += revenue  # type: ignore[assignment]
        customer.spend += revenue
        customer.purchases += 1
        for name, response in customer.responses.items():
            last, first_month, bought = response
            if fact.occurred_at - datetime.fromisoformat(str(last)) > self.attribution:
                continue
            kind, key = name.split("\t", 1)
            campaign = out.campaigns[(date.fromisoformat(str(first_month)), kind, key)]
            campaign["revenue"] += revenue  # type: ignore[assignment]
            campaign["purchases"] += 1
            if not bought:
                response[2] = True
                campaign["buyers"] += 1
        for category in fact.bought:
            out.bought.add((fact.customer_id, category, fact.day))
            since = customer.interests.get(category)
            if since is not None and category not in customer.converted:
                customer.converted.append(category)
                out.interests[(date.fromisoformat(since), category)]["converted"] += 1

    @staticmethod
    def _complaint(out: MetricsChanges, cell: Counter[str], fact: Fact) -> None:
        case = out.cases.setdefault(str(fact.case_id), CaseState())
        if fact.type == "complaint.opened":
            if case.opened_at is None:
                case.opened_at = fact.occurred_at
                cell["complaints_opened"] += 1
        elif fact.type == "complaint.resolved":
            if not case.resolved:
                case.resolved = True
                cell["complaints_resolved"] += 1
                if case.opened_at is not None:
                    seconds = (fact.occurred_at - case.opened_at).total_seconds()
                    cell["resolve_seconds"] += max(0, round(seconds))
                    cell["resolves_timed"] += 1
                    cell["first_contact_resolutions"] += case.touches == 0
        else:
            case.touches += 1

    @staticmethod
    def _survey(customer: CustomerState, cell: Counter[str], fact: Fact) -> None:
        cell["surveys"] += 1
        cell["rating_sum"] += sum(fact.ratings)
        cell["rating_count"] += len(fact.ratings)
        customer.rating_sum += sum(fact.ratings)
        customer.rating_count += len(fact.ratings)
        if fact.nps is not None:
            cell["nps_count"] += 1
            cell["promoters"] += fact.nps >= 9  # NPS's definition
            cell["detractors"] += fact.nps <= 6
