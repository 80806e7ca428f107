"""A customer's life in simulated time, for trigger scenario tests: no waiting, no broker."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from events import Touchpoint, from_mapping
from projections.triggers import CustomerState, Trigger, TriggerEngine, parse_rules
from tests.factories import BASE_TIME

_ids = itertools.count(1)

CHANNEL = {
    "purchase.completed": "store",
    "product.viewed": "web",
    "interest.declared": "web",
    "survey.responded": "email",
    "feedback.given": "web",
    "service.completed": "phone",
    "warranty.registered": "web",
    "complaint.opened": "phone",
    "complaint.resolved": "phone",
    "consent.changed": "web",
    "profile.updated": "web",
    "refund.issued": "store",
    "call.logged": "phone",
}


def purchase(category: str, total: str = "50.00") -> dict[str, Any]:
    return {
        "order_id": f"O-{next(_ids)}",
        "currency": "EUR",
        "total": total,
        "payment_method": "card",
        "lines": [{"sku": "SKU-1", "category": category, "quantity": 1, "unit_price": total}],
    }


def consent(
    status: str, channel: str | None = "email", purpose: str = "marketing"
) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "channel": channel,
        "status": status,
        "legal_basis": "consent",
        "captured_via": "preference centre",
    }


def complaint(case_id: str = "C-1", severity: str = "high") -> dict[str, Any]:
    return {
        "case_id": case_id,
        "category": "delivery",
        "severity": severity,
        "description": "Parcel damaged",
    }


def touchpoint(
    kind: str,
    customer: str,
    at: datetime,
    payload: dict[str, Any],
    *,
    message_id: str | None = None,
    email: str | None = None,
) -> Touchpoint:
    subject: dict[str, Any] = {"customer_id": customer}
    if email:
        subject["email"] = email
    return from_mapping(
        {
            "type": kind,
            "message_id": message_id or f"m-{next(_ids)}",
            "occurred_at": at.isoformat(),
            "source": {"system": "shop", "business_unit": "retail", "channel": CHANNEL[kind]},
            "subject": subject,
            "payload": payload,
        }
    )


def survey(rating: int, nps: int | None) -> dict[str, Any]:
    return {
        "survey_id": "S-1",
        "survey_name": "After delivery",
        "nps": nps,
        "answers": [{"question_id": "q1", "question": "Delivery", "rating": rating}],
    }


class Life:
    """One customer, one engine, a clock that only moves when told."""

    def __init__(self, rules: list[dict[str, Any]], **settings: Any) -> None:
        self.engine = TriggerEngine(parse_rules({"rules": rules, **settings}))
        self.state = CustomerState()
        self.customer = "cust-1"
        self.now = BASE_TIME
        self.email = "ann@example.com"
        self.triggers: list[Trigger] = []

    def event(self, kind: str, payload: dict[str, Any], *, after: timedelta = timedelta(0)) -> str:
        """The customer does something ``after`` from now; returns its message id."""
        self.now += after
        event = touchpoint(kind, self.customer, self.now, payload, email=self.email)
        message_id = event.message_id
        self.state, fired = self.engine.apply(self.state, self.customer, event, self.now)
        self.triggers += fired
        return message_id

    def wait(self, duration: timedelta) -> list[Trigger]:
        """Time passes; what fired meanwhile."""
        self.now += duration
        self.state, fired = self.engine.advance(self.state, self.customer, self.now)
        self.triggers += fired
        return fired

    def until(self, moment: datetime) -> list[Trigger]:
        return self.wait(moment - self.now)

    def emitted(self, rule: str | None = None) -> list[Trigger]:
        return [t for t in self.triggers if t.suppressed is None and rule in (None, t.rule)]

    def suppressed(self) -> list[Trigger]:
        return [t for t in self.triggers if t.suppressed is not None]
