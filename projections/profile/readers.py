"""How each profile field reads its value from the folded state (and completes it for a
moment, where the value depends on when it is read)."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from projections.profile.facts import TWO_PLACES
from projections.profile.state import ProfileState

Reader = Callable[[ProfileState], Any]
AtTime = Callable[[Any, ProfileState, datetime], Any]


def latest(kind: str) -> Reader:
    return lambda state: state.value_of(kind)


def verification(state: ProfileState) -> Any:
    """Which check a rep may ask for (a memorable word or date), never its hash: only
    ``api.verification`` compares answers, reading the fact itself."""
    value = state.value_of("verification")
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if k != "answer_hash"}


def money(amount: Decimal) -> str:
    return str(amount.quantize(TWO_PLACES))


def days(since: datetime | None, moment: datetime) -> int | None:
    return None if since is None else max((moment - since).days, 0)


def years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def last_purchase(state: ProfileState) -> dict[str, Any] | None:
    last = state.purchases.last
    if last is None:
        return None
    value = last.value
    return {
        "order_id": last.key,
        "at": last.occurred_at.isoformat(),
        "total": value["total"],
        "currency": value["currency"],
    }


def observed_channel(state: ProfileState) -> str | None:
    if not state.inbound:
        return None
    # Most used; on a tie, the one used last; then by name, so any fold order agrees.
    return max(state.inbound, key=lambda ch: (state.inbound[ch], state.last_inbound[ch], ch))


def open_complaints(state: ProfileState) -> list[dict[str, Any]]:
    cases = [c for c in state.complaints.values() if c.open and c.opened_at is not None]
    return [
        {
            "case_id": c.case_id,
            "category": c.category,
            "severity": c.severity,
            "opened_at": c.opened_at.isoformat() if c.opened_at else None,
            "status": c.status,
            "escalated_to": c.escalated_to,
        }
        for c in sorted(cases, key=lambda c: (c.opened_at, c.case_id))
    ]


def with_age(value: list[dict[str, Any]], _: ProfileState, moment: datetime) -> Any:
    return [
        {**case, "age_days": days(datetime.fromisoformat(case["opened_at"]), moment)}
        for case in value
    ]


def consents(state: ProfileState) -> dict[str, dict[str, Any]]:
    return {
        key: {**fact.value, "at": fact.occurred_at.isoformat()}
        for key, fact in sorted(state.consents.items())
    }


def with_expiry(value: dict[str, dict[str, Any]], _: ProfileState, moment: datetime) -> Any:
    return {
        key: {
            **consent,
            "expired": consent["expires_at"] is not None
            and datetime.fromisoformat(consent["expires_at"]) <= moment,
        }
        for key, consent in value.items()
    }


def next_service_due(state: ProfileState) -> list[dict[str, Any]]:
    due = [
        {
            "due_on": s["next_due_on"],
            "service_type": s["service_type"],
            "product_sku": s["product_sku"],
            "serial_number": s["serial_number"],
        }
        for key, s in sorted(state.services.items())
        if s["next_due_on"] is not None
    ]
    return sorted(due, key=lambda d: d["due_on"])


def warranties(state: ProfileState) -> list[dict[str, Any]]:
    listed = []
    for _, w in sorted(state.warranties.items()):
        bought = date.fromisoformat(w["purchase_date"])
        months = bought.month - 1 + w["warranty_months"]
        year, month = bought.year + months // 12, months % 12 + 1
        expires = date(year, month, min(bought.day, calendar.monthrange(year, month)[1]))
        listed.append({**w, "expires_on": expires.isoformat()})
    return listed


def age(_: Any, state: ProfileState, moment: datetime) -> int | None:
    born = state.value_of("date_of_birth")
    return None if born is None else years(date.fromisoformat(born), moment.date())


def cooperativeness(state: ProfileState) -> dict[str, Any] | None:
    if not state.surveys:
        return None
    return {
        "surveys_answered": len(state.surveys),
        "last_answered": max(state.surveys.values()).isoformat(),
    }
