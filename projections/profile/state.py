"""The fold: a customer's facts, applied in history order, into the state profiles read.

``ProfileState.apply`` must see facts in ``Fact.order()``; ``fold`` sorts them. What each
profile field shows is read from the state by ``projections.profile.fields``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from projections.profile.facts import DECLARED_LISTS, DECLARED_VALUES, Fact

LATEST_KINDS = frozenset(
    {
        "name",
        "title",
        "pronunciation",
        *DECLARED_LISTS,
        *DECLARED_VALUES,
        "nps",
        "age_band",
        "accessibility_needs",
        "verification",
    }
)
"""Kinds where the newest value is the value."""


@dataclass(slots=True)
class Purchases:
    count: int = 0
    by_currency: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    last: Fact | None = None
    categories: set[str] = field(default_factory=set)
    products: dict[str, str | None] = field(default_factory=dict)
    methods: set[str] = field(default_factory=set)

    def add(self, fact: Fact) -> None:
        value = fact.value
        self.count += 1
        orders, total = self.by_currency.get(value["currency"], (0, Decimal(0)))
        self.by_currency[value["currency"]] = (orders + 1, total + Decimal(value["total"]))
        self.last = fact
        self.methods.add(value["payment_method"])
        for line in value["lines"]:
            self.categories.add(line["category"])
            if line["name"] is not None or line["sku"] not in self.products:
                self.products[line["sku"]] = line["name"]


@dataclass(slots=True)
class Complaint:
    case_id: str
    open: bool = False
    opened_at: datetime | None = None
    category: str | None = None
    severity: str | None = None
    status: str | None = None
    escalated_to: str | None = None

    def apply(self, fact: Fact) -> None:
        value = fact.value
        match value["event"]:
            case "opened":
                self.open, self.opened_at = True, fact.occurred_at
                self.category, self.severity = value["category"], value["severity"]
            case "resolved":
                self.open = False
            case "updated":
                self.status = value["status"]
            case "escalated":
                self.escalated_to = value["level"]


@dataclass(slots=True)
class ProfileState:
    """Everything the profile shows, accumulated fact by fact in history order."""

    facts: int = 0
    latest: dict[str, Fact] = field(default_factory=dict)
    first_contact: datetime | None = None
    last_contact: dict[str, Fact] = field(default_factory=dict)
    inbound: Counter[str] = field(default_factory=Counter)
    last_inbound: dict[str, datetime] = field(default_factory=dict)
    consents: dict[str, Fact] = field(default_factory=dict)
    purchases: Purchases = field(default_factory=Purchases)
    refunded: dict[str, Decimal] = field(default_factory=dict)
    complaints: dict[str, Complaint] = field(default_factory=dict)
    satisfaction_last: str | None = None
    satisfaction_sum: Decimal = Decimal(0)
    satisfaction_count: int = 0
    surveys: dict[str, datetime] = field(default_factory=dict)
    rewards: dict[str, int] = field(default_factory=dict)
    warranties: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    campaigns: dict[str, Fact] = field(default_factory=dict)
    interests: set[str] = field(default_factory=set)

    def apply(self, fact: Fact) -> None:
        self.facts += 1
        kind, value = fact.kind, fact.value
        if kind in LATEST_KINDS:
            self.latest[kind] = fact
        elif kind == "contact":
            if self.first_contact is None:
                self.first_contact = fact.occurred_at
            self.last_contact[fact.key] = fact
            if value["inbound"]:
                self.inbound[fact.key] += 1
                self.last_inbound[fact.key] = fact.occurred_at
        elif kind == "consent":
            self.consents[fact.key] = fact
        elif kind == "purchase":
            self.purchases.add(fact)
        elif kind == "refund":
            currency = value["currency"]
            self.refunded[currency] = self.refunded.get(currency, Decimal(0)) + Decimal(
                value["amount"]
            )
        elif kind == "complaint":
            self.complaints.setdefault(fact.key, Complaint(fact.key)).apply(fact)
        elif kind == "satisfaction":
            self.satisfaction_last = value
            self.satisfaction_sum += Decimal(value)
            self.satisfaction_count += 1
        elif kind == "survey":
            self.surveys[fact.key] = fact.occurred_at
        elif kind == "rewards":
            before = self.rewards.get(fact.key, 0)
            after = value["balance_after"]
            self.rewards[fact.key] = after if after is not None else before + value["delta"]
        elif kind == "warranty":
            self.warranties[fact.key] = value
        elif kind == "service":
            self.services[fact.key] = value
        elif kind == "campaign":
            self.campaigns[fact.key] = fact
        elif kind == "interests":
            self.interests.update(value)
        else:
            raise ValueError(f"unknown fact kind {kind!r}")

    def value_of(self, kind: str) -> Any:
        fact = self.latest.get(kind)
        return None if fact is None else fact.value


def in_order(facts: Iterable[Fact]) -> list[Fact]:
    """History order, each fact once: a customer's rows and those of the customers merged
    into it are united, and an event stated under two of them counts once."""
    seen: set[tuple[Any, ...]] = set()
    ordered = []
    for fact in sorted(facts, key=Fact.order):
        identity = fact.identity()[1:]
        if identity not in seen:
            seen.add(identity)
            ordered.append(fact)
    return ordered


def fold(facts: Iterable[Fact], as_of: datetime | None = None) -> ProfileState:
    """The state after every fact with ``occurred_at ≤ as_of`` (all of them if None)."""
    state = ProfileState()
    for fact in in_order(facts):
        if as_of is not None and fact.occurred_at > as_of:
            break
        state.apply(fact)
    return state
