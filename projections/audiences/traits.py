"""What audiences read of a customer, kept compact and folded fact by fact.

The profile's facts (``projections.profile.facts``) are the input: one extraction rule
for both views. Each trait keeps the position in history (``Fact.order``) of the fact that
set it and yields only to a later one, so the traits after any arrival order of the same
facts equal the profile's fold of them, and applying a fact twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from projections.profile.facts import Fact

LATEST = frozenset({"name", "title", "addresses", "emails", "phones"})
"""Kinds where the value stated last in history is the value."""

Order = list[str]


def stamp(at: datetime) -> str:
    """A moment as text that sorts as the moment does."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")  # fixed width, so it sorts


def moment_of(text: str) -> datetime:
    return datetime.fromisoformat(text)


def order_of(fact: Fact) -> Order:
    at, system, message_id, kind, key = fact.order()
    return [stamp(at), system, message_id, kind, key]


@dataclass(slots=True)
class Traits:
    moment: str = ""
    """The newest event time seen: the moment time rules are read at."""
    latest: dict[str, list[Any]] = field(default_factory=dict)
    """kind → [order, value]."""
    consents: dict[str, list[Any]] = field(default_factory=dict)
    """``purpose/channel`` (``*``: every channel) → [order, status, expires_at]."""
    purchases: dict[str, list[Any]] = field(default_factory=dict)
    """one per purchase fact → [at, currency, total, categories]."""
    complaints: dict[str, list[Any]] = field(default_factory=dict)
    """case id → [order, open] of its latest opening or resolution."""
    interests: list[str] = field(default_factory=list)

    def apply(self, fact: Fact) -> None:
        self.moment = max(self.moment, stamp(fact.occurred_at))
        kind, value, order = fact.kind, fact.value, order_of(fact)
        if kind in LATEST:
            _newer(self.latest, kind, [order, value])
        elif kind == "consent":
            _newer(self.consents, fact.key, [order, value["status"], value["expires_at"]])
        elif kind == "purchase":
            key = "\x1f".join(order)
            categories = sorted({line["category"] for line in value["lines"]})
            self.purchases[key] = [order[0], value["currency"], value["total"], categories]
        elif kind == "complaint" and value["event"] in ("opened", "resolved"):
            _newer(self.complaints, fact.key, [order, value["event"] == "opened"])
        elif kind == "interests":
            self.interests = sorted(set(self.interests) | set(value))

    def absorb(self, other: Traits) -> None:
        """Another id's traits folded in (a merge family): each trait yields only to a later
        one, so the union is what folding both ids' facts gives."""
        self.moment = max(self.moment, other.moment)
        for kind, entry in other.latest.items():
            _newer(self.latest, kind, entry)
        for key, entry in other.consents.items():
            _newer(self.consents, key, entry)
        self.purchases.update(other.purchases)  # keyed by their position: one event counts once
        for key, entry in other.complaints.items():
            _newer(self.complaints, key, entry)
        self.interests = sorted(set(self.interests) | set(other.interests))

    def value_of(self, kind: str) -> Any:
        held = self.latest.get(kind)
        return None if held is None else held[1]

    def spend(self, currency: str) -> Decimal | None:
        totals = [Decimal(total) for _, cur, total, _ in self.purchases.values() if cur == currency]
        return sum(totals, Decimal(0)) if totals else None

    def categories(self) -> set[str]:
        return {c for *_, categories in self.purchases.values() for c in categories}

    def last_purchase(self) -> datetime | None:
        stamps = [at for at, *_ in self.purchases.values()]
        return moment_of(max(stamps)) if stamps else None

    def open_complaint(self) -> bool:
        return any(is_open for _, is_open in self.complaints.values())

    def consent(self, purpose: str, channel: str, at: datetime) -> tuple[bool, str | None]:
        """Whether ``purpose`` is granted on ``channel`` at ``at`` (the newer of the
        channel's own consent and the every-channel one), and when that grant expires."""
        held = [
            self.consents[k] for k in (f"{purpose}/{channel}", f"{purpose}/*") if k in self.consents
        ]
        if not held:
            return False, None
        _, status, expires_at = max(held, key=lambda c: c[0])
        if status != "granted":
            return False, None
        if expires_at is not None and datetime.fromisoformat(expires_at) <= at:
            return False, None
        return True, expires_at

    def to_json(self) -> str:
        # msgspec: several times json's speed; the traits are encoded for every customer
        # of every batch.
        return msgspec.json.encode(
            {
                "moment": self.moment,
                "latest": self.latest,
                "consents": self.consents,
                "purchases": self.purchases,
                "complaints": self.complaints,
                "interests": self.interests,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Traits:
        return cls(**msgspec.json.decode(text))


def _newer(held: dict[str, list[Any]], key: str, entry: list[Any]) -> None:
    current = held.get(key)
    if current is None or entry[0] > current[0]:
        held[key] = entry
