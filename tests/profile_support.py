"""Profile tests' shared parts: event builders, hypothesis strategies, and a reference fold.

``reference_profile`` is the specification of the profile written the plainest way: sort
the customer's events with ``occurred_at ≤ T`` and walk them once, in order, updating a
dict. It shares no code with ``projections.profile``; the property tests compare the two.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from events import Touchpoint, from_mapping
from tests.factories import BASE_TIME

DEFAULT_CHANNEL = {
    "profile.updated": "web",
    "consent.changed": "web",
    "verification.set": "web",
    "purchase.completed": "store",
    "refund.issued": "store",
    "complaint.opened": "phone",
    "complaint.updated": "phone",
    "complaint.escalated": "phone",
    "complaint.resolved": "phone",
    "survey.responded": "email",
    "feedback.given": "web",
    "chat.transcript_recorded": "chat",
    "rewards.earned": "store",
    "rewards.redeemed": "store",
    "warranty.registered": "web",
    "service.completed": "store",
    "campaign.responded": "mail",
    "interest.declared": "web",
    "booking.made": "web",
    "call.logged": "phone",
    "email.sent": "email",
    "sms.received": "sms",
    "customer.merged": "app",
}


def touch(
    kind: str,
    payload: dict[str, Any],
    *,
    at: datetime,
    message_id: str,
    customer: str = "cust-1",
    system: str = "test-system",
    channel: str | None = None,
) -> Touchpoint:
    return from_mapping(
        {
            "type": kind,
            "message_id": message_id,
            "occurred_at": at.isoformat(),
            "source": {
                "system": system,
                "business_unit": "retail",
                "channel": channel or DEFAULT_CHANNEL[kind],
            },
            "subject": {"customer_id": customer},
            "payload": payload,
        }
    )


# --- payloads ---------------------------------------------------------------------------

NAMES = [
    {"title": "Ms", "given_name": "Siobhán", "family_name": "Niamh", "pronunciation": "shiv-AWN"},
    {"given_name": "Ann", "middle_names": "Marie", "family_name": "Lee"},
    {"title": "Dr", "family_name": "Okafor", "suffix": "Jr"},
]
ADDRESSES = [
    [{"lines": ["12 rue Oberkampf"], "locality": "Paris", "postal_code": "75011", "country": "FR"}],
    [
        {"use": "work", "lines": ["1 Quay St"], "locality": "Dublin", "country": "IE"},
        {
            "use": "delivery",
            "lines": ["4 Elm Rd"],
            "locality": "Cork",
            "postal_code": "T12 X70A",
            "country": "IE",
        },
    ],
]
PHONES = [
    [{"use": "mobile", "number": "06 28 23 04 55", "primary": True}],
    [{"use": "home", "number": "+33 1 45 67 89 10"}, {"use": "mobile", "number": "+33612345678"}],
]
EMAILS = [
    [{"use": "personal", "address": "ann@example.com", "primary": True}],
    [{"use": "work", "address": "a.lee@work.example.org"}],
]

PROFILE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(NAMES),
        "addresses": st.sampled_from(ADDRESSES),
        "phones": st.sampled_from(PHONES),
        "emails": st.sampled_from(EMAILS),
        "preferred_channel": st.sampled_from(["email", "phone", "sms"]),
        "preferred_payment_method": st.sampled_from(["card", "invoice"]),
        "dispatch_instructions": st.sampled_from(["leave with no. 12", "ring twice"]),
        "date_of_birth": st.sampled_from(["1961-07-14", "1990-02-28", "2008-12-01"]),
        "income_band": st.sampled_from(["under_20k", "over_100k"]),
        "household": st.sampled_from([{"adults": 2, "children": 1}, {"adults": 1}]),
        "education": st.sampled_from(["bachelor", "doctorate"]),
    },
).filter(bool)

LINES = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.sampled_from(["SKU-1", "SKU-2", "SKU-3"]),
            "category": st.sampled_from(["garden", "kitchen"]),
            "quantity": st.integers(1, 3),
            "unit_price": st.sampled_from(["9.99", "120.00", "450.50"]),
        },
        optional={"name": st.sampled_from(["Spade", "Kettle"])},
    ),
    min_size=1,
    max_size=2,
)


@st.composite
def purchase(draw: st.DrawFn) -> dict[str, Any]:
    lines = draw(LINES)
    full = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
    return {
        "order_id": draw(st.sampled_from(["O-1", "O-2", "O-3", "O-4"])),
        "lines": lines,
        "currency": draw(st.sampled_from(["EUR", "GBP"])),
        "total": str(
            draw(st.sampled_from([full, (full * Decimal("0.9")).quantize(Decimal("0.01"))]))
        ),
        "payment_method": draw(st.sampled_from(["card", "cash", "voucher"])),
    }


CASES = st.sampled_from(["C-1", "C-2", "C-3"])

PAYLOADS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "profile.updated": PROFILE_FIELDS,
    "consent.changed": st.fixed_dictionaries(
        {
            "purpose": st.sampled_from(["marketing", "profiling"]),
            "channel": st.sampled_from([None, "email", "sms", "mail"]),
            "status": st.sampled_from(["granted", "denied", "revoked"]),
            "legal_basis": st.just("consent"),
            "captured_via": st.sampled_from(["web preference centre", "call"]),
            "expires_at": st.sampled_from([None, (BASE_TIME + timedelta(hours=10)).isoformat()]),
        }
    ),
    "purchase.completed": purchase(),
    "refund.issued": st.fixed_dictionaries(
        {
            "refund_id": st.sampled_from(["R-1", "R-2"]),
            "amount": st.sampled_from(["5.00", "19.99"]),
            "currency": st.sampled_from(["EUR", "GBP"]),
            "method": st.just("card"),
            "reason": st.just("return"),
        }
    ),
    "complaint.opened": st.fixed_dictionaries(
        {
            "case_id": CASES,
            "category": st.sampled_from(["delivery", "billing"]),
            "severity": st.sampled_from(["low", "high"]),
            "description": st.just("Parcel damaged"),
        }
    ),
    "complaint.updated": st.fixed_dictionaries(
        {
            "case_id": CASES,
            "status": st.sampled_from(["investigating", "on_hold"]),
            "note": st.just("called back"),
            "updated_by": st.just("agent-7"),
        }
    ),
    "complaint.escalated": st.fixed_dictionaries(
        {
            "case_id": CASES,
            "to_level": st.sampled_from(["manager", "ombudsman"]),
            "reason": st.just("slow"),
            "escalated_by": st.just("agent-7"),
        }
    ),
    "complaint.resolved": st.fixed_dictionaries(
        {"case_id": CASES, "resolution": st.just("refund"), "resolved_by": st.just("agent-7")}
    ),
    "survey.responded": st.fixed_dictionaries(
        {
            "survey_id": st.sampled_from(["S-1", "S-2"]),
            "survey_name": st.just("After-sales"),
            "answers": st.lists(
                st.fixed_dictionaries(
                    {
                        "question_id": st.just("q1"),
                        "question": st.just("How was it?"),
                        "rating": st.integers(1, 5),
                    }
                ),
                min_size=1,
                max_size=3,
            ),
        },
        optional={
            "nps": st.integers(0, 10),
            "age_band": st.sampled_from(["25_34", "50_64"]),
        },
    ),
    "feedback.given": st.fixed_dictionaries(
        {"topic": st.just("delivery"), "sentiment": st.just("positive"), "text": st.just("ok")},
        optional={"rating": st.integers(1, 5)},
    ),
    "chat.transcript_recorded": st.fixed_dictionaries(
        {
            "chat_id": st.just("chat-1"),
            "started_at": st.just(BASE_TIME.isoformat()),
            "ended_at": st.just((BASE_TIME + timedelta(minutes=5)).isoformat()),
            "messages": st.just(
                [{"sender": "customer", "sent_at": BASE_TIME.isoformat(), "text": "hi"}]
            ),
        },
        optional={"rating": st.integers(1, 5)},
    ),
    "rewards.earned": st.fixed_dictionaries(
        {
            "programme": st.sampled_from(["Club", "Miles"]),
            "member_number": st.just("M-1"),
            "points": st.integers(1, 500),
            "reason": st.just("purchase"),
        },
        optional={"balance_after": st.integers(0, 2000)},
    ),
    "rewards.redeemed": st.fixed_dictionaries(
        {
            "programme": st.sampled_from(["Club", "Miles"]),
            "member_number": st.just("M-1"),
            "points": st.integers(1, 500),
            "reward": st.just("voucher"),
        },
        optional={"balance_after": st.integers(0, 2000)},
    ),
    "warranty.registered": st.fixed_dictionaries(
        {
            "warranty_id": st.sampled_from(["W-1", "W-2"]),
            "product_sku": st.just("SKU-9"),
            "product_name": st.just("Oven"),
            "serial_number": st.just("SN-9"),
            "purchase_date": st.sampled_from(["2025-01-31", "2025-08-15"]),
            "place_of_purchase": st.just("our shop"),
            "warranty_months": st.sampled_from([1, 24]),
        }
    ),
    "service.completed": st.fixed_dictionaries(
        {
            "job_id": st.just("J-1"),
            "service_type": st.sampled_from(["annual boiler service", "oven repair"]),
            "completed_on": st.just("2026-03-01"),
        },
        optional={
            "serial_number": st.sampled_from(["SN-1", "SN-2"]),
            "next_due_on": st.sampled_from(["2027-03-01", "2026-09-01"]),
        },
    ),
    "campaign.responded": st.fixed_dictionaries(
        {
            "campaign_code": st.sampled_from(["SPRING26", "XMAS26"]),
            "response": st.sampled_from(["clicked", "called"]),
        }
    ),
    "interest.declared": st.fixed_dictionaries(
        {"categories": st.lists(st.sampled_from(["garden", "opera", "cycling"]), min_size=1)}
    ),
    "booking.made": st.fixed_dictionaries(
        {
            "booking_ref": st.just("B-1"),
            "venue": st.just("Gaiety"),
            "performance": st.just("Carmen"),
            "performance_at": st.just((BASE_TIME + timedelta(days=30)).isoformat()),
            "seats": st.just([{"section": "Stalls", "row": "C", "number": "7"}]),
            "total": st.just("80.00"),
            "currency": st.just("EUR"),
        },
        optional={"accessibility_needs": st.sampled_from(["wheelchair space", "hearing loop"])},
    ),
    "call.logged": st.fixed_dictionaries(
        {
            "direction": st.sampled_from(["inbound", "outbound"]),
            "duration_seconds": st.just(60),
            "reason": st.just("delivery"),
            "outcome": st.just("ok"),
        }
    ),
    "email.sent": st.just({"mailbox": "service@example.com", "subject_line": "Hello"}),
    "sms.received": st.just({"our_number": "+33700000000", "body": "STOP"}),
}


@st.composite
def customer_events(
    draw: st.DrawFn, customer: str = "cust-1", max_size: int = 25
) -> list[Touchpoint]:
    """One customer's events in arrival order: out of time order, with ties in time and
    re-published copies."""
    kinds = draw(st.lists(st.sampled_from(sorted(PAYLOADS)), min_size=1, max_size=max_size))
    events = []
    for i, kind in enumerate(kinds):
        events.append(
            touch(
                kind,
                draw(PAYLOADS[kind]),
                at=BASE_TIME + timedelta(hours=draw(st.integers(0, 24 * 400))),
                message_id=f"{customer}-m{i}",
                customer=customer,
                system=draw(st.sampled_from(["sys-a", "sys-b"])),
                channel=draw(st.sampled_from([None, None, "web", "phone", "store"])),
            )
        )
    copies = draw(st.lists(st.sampled_from(events), max_size=3))
    return draw(st.permutations(events + copies))


# --- the reference fold ------------------------------------------------------------------

CENT = Decimal("0.01")


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


def reference_profile(events: list[Touchpoint], moment: datetime) -> dict[str, Any]:
    """The profile at ``moment``: every event with ``occurred_at ≤ moment``, walked in time
    order (ties by source system, then message id), re-published copies once."""
    unique = {(e.source.system, e.message_id): e for e in events}
    ordered = sorted(
        (e for e in unique.values() if e.occurred_at <= moment),
        key=lambda e: (e.occurred_at, e.source.system, e.message_id),
    )
    latest: dict[str, Any] = {}
    first: datetime | None = None
    last_contact: dict[str, dict[str, Any]] = {}
    inbound: Counter[str] = Counter()
    last_inbound: dict[str, datetime] = {}
    consents: dict[str, dict[str, Any]] = {}
    orders = 0
    spend: dict[str, list[Any]] = {}
    last_purchase = None
    categories: set[str] = set()
    products: dict[str, str | None] = {}
    methods: set[str] = set()
    refunded: dict[str, Decimal] = {}
    cases: dict[str, dict[str, Any]] = {}
    ratings: list[Decimal] = []
    surveys: dict[str, datetime] = {}
    rewards: dict[str, int] = {}
    warranties: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    campaigns: dict[str, dict[str, Any]] = {}
    interests: set[str] = set()

    for e in ordered:
        p: Any = e.payload
        at = e.occurred_at
        first = first or at
        channel = e.source.channel.value
        last_contact[channel] = {"at": at.isoformat(), "type": e.type}
        outbound = e.type in ("email.sent", "sms.sent") or (
            e.type == "call.logged" and p.direction.value == "outbound"
        )
        if not outbound:
            inbound[channel] += 1
            last_inbound[channel] = at
        match e.type:
            case "profile.updated":
                if p.name is not None:
                    latest["name"] = {
                        "given_name": p.name.given_name,
                        "middle_names": p.name.middle_names,
                        "family_name": p.name.family_name,
                        "suffix": p.name.suffix,
                    }
                    latest["title"] = p.name.title.value if p.name.title else None
                    latest["pronunciation"] = p.name.pronunciation
                for name in ("addresses", "phones", "emails"):
                    if getattr(p, name) is not None:
                        latest[name] = [_dump(item) for item in getattr(p, name)]
                for name in (
                    "preferred_channel",
                    "preferred_payment_method",
                    "income_band",
                    "education",
                ):
                    if getattr(p, name) is not None:
                        latest[name] = getattr(p, name).value
                if p.dispatch_instructions is not None:
                    latest["dispatch_instructions"] = p.dispatch_instructions
                if p.date_of_birth is not None:
                    latest["date_of_birth"] = p.date_of_birth.isoformat()
                if p.household is not None:
                    latest["household"] = _dump(p.household)
            case "consent.changed":
                key = f"{p.purpose.value}/{p.channel.value if p.channel else '*'}"
                consents[key] = {
                    **_dump(p),
                    "source_system": e.source.system,
                    "business_unit": e.source.business_unit,
                    "at": at.isoformat(),
                    "expired": p.expires_at is not None and p.expires_at <= moment,
                }
            case "purchase.completed":
                orders += 1
                count, total = spend.get(p.currency, [0, Decimal(0)])
                spend[p.currency] = [count + 1, total + p.total]
                last_purchase = {
                    "order_id": p.order_id,
                    "at": at.isoformat(),
                    "total": _money(p.total),
                    "currency": p.currency,
                }
                methods.add(p.payment_method.value)
                for line in p.lines:
                    categories.add(line.category)
                    if line.name is not None or line.sku not in products:
                        products[line.sku] = line.name
            case "refund.issued":
                refunded[p.currency] = refunded.get(p.currency, Decimal(0)) + p.amount
            case "complaint.opened":
                case = cases.setdefault(p.case_id, {"status": None, "escalated_to": None})
                case |= {
                    "open": True,
                    "opened_at": at,
                    "category": p.category,
                    "severity": p.severity.value,
                }
            case "complaint.resolved":
                cases.setdefault(p.case_id, {"status": None, "escalated_to": None})["open"] = False
            case "complaint.updated":
                cases.setdefault(p.case_id, {"escalated_to": None})["status"] = p.status.value
            case "complaint.escalated":
                cases.setdefault(p.case_id, {"status": None})["escalated_to"] = p.to_level.value
            case "survey.responded":
                surveys[p.survey_id] = at
                if p.answers:
                    mean = Decimal(sum(a.rating for a in p.answers)) / len(p.answers)
                    ratings.append(mean.quantize(CENT))
                if p.nps is not None:
                    latest["nps"] = p.nps
                if p.age_band is not None:
                    latest["age_band"] = p.age_band.value
            case "feedback.given" | "chat.transcript_recorded":
                if p.rating is not None:
                    ratings.append(Decimal(p.rating).quantize(CENT))
            case "rewards.earned" | "rewards.redeemed":
                delta = p.points if e.type == "rewards.earned" else -p.points
                before = rewards.get(p.programme, 0)
                rewards[p.programme] = (
                    p.balance_after if p.balance_after is not None else before + delta
                )
            case "warranty.registered":
                bought = p.purchase_date
                months = bought.month - 1 + p.warranty_months
                year, month = bought.year + months // 12, months % 12 + 1
                last_day = calendar.monthrange(year, month)[1]
                warranties[p.warranty_id] = {
                    "warranty_id": p.warranty_id,
                    "product_sku": p.product_sku,
                    "product_name": p.product_name,
                    "serial_number": p.serial_number,
                    "purchase_date": bought.isoformat(),
                    "warranty_months": p.warranty_months,
                    "extended": p.extended,
                    "expires_on": date(year, month, min(bought.day, last_day)).isoformat(),
                }
            case "service.completed":
                services[p.serial_number or p.product_sku or p.service_type] = {
                    "due_on": p.next_due_on.isoformat() if p.next_due_on else None,
                    "service_type": p.service_type,
                    "product_sku": p.product_sku,
                    "serial_number": p.serial_number,
                }
            case "campaign.responded":
                campaigns[p.campaign_code] = {
                    "campaign_code": p.campaign_code,
                    "response": p.response.value,
                    "at": at.isoformat(),
                }
            case "interest.declared":
                interests.update(p.categories)
            case "booking.made":
                if p.accessibility_needs is not None:
                    latest["accessibility_needs"] = p.accessibility_needs
            case "verification.set":
                latest["verification"] = _dump(p)

    open_cases = sorted(
        (c | {"case_id": k} for k, c in cases.items() if c.get("open")),
        key=lambda c: (c["opened_at"], c["case_id"]),
    )
    born = latest.get("date_of_birth")
    segments = set()
    if first is not None and moment - first < timedelta(days=90):
        segments.add("new_customer")
    if orders >= 2:
        segments.add("repeat_buyer")
    if any(total >= 1000 for _, total in spend.values()):
        segments.add("high_value")
    if last_purchase is not None and moment - datetime.fromisoformat(
        last_purchase["at"]
    ) > timedelta(days=365):
        segments.add("lapsed")
    if open_cases:
        segments.add("open_complaint")
    if "nps" in latest:
        nps = latest["nps"]
        segments.add("promoter" if nps >= 9 else "detractor" if nps <= 6 else "passive")
    if rewards:
        segments.add("rewards_member")
    observed = max(inbound, key=lambda ch: (inbound[ch], last_inbound[ch], ch)) if inbound else None
    due = sorted(
        (s for _, s in sorted(services.items()) if s["due_on"] is not None),
        key=lambda s: s["due_on"],
    )
    return {
        "name": latest.get("name"),
        "title": latest.get("title"),
        "pronunciation": latest.get("pronunciation"),
        "addresses": latest.get("addresses"),
        "phones": latest.get("phones"),
        "emails": latest.get("emails"),
        "preferred_channel_declared": latest.get("preferred_channel"),
        "customer_since": first.isoformat() if first else None,
        "tenure_days": max((moment - first).days, 0) if first else None,
        "orders": orders,
        "lifetime_spend": {c: _money(t) for c, (_, t) in spend.items()},
        "average_order": {c: _money(t / n) for c, (n, t) in spend.items()},
        "last_purchase": last_purchase,
        "refunded": {c: _money(a) for c, a in refunded.items()},
        "categories_bought": sorted(categories),
        "products_bought": [{"sku": s, "name": n} for s, n in sorted(products.items())],
        "payment_methods": sorted(methods),
        "preferred_payment_method": latest.get("preferred_payment_method"),
        "dispatch_instructions": latest.get("dispatch_instructions"),
        "last_contact": last_contact,
        "preferred_channel_observed": observed,
        "open_complaints": [
            {
                "case_id": c["case_id"],
                "category": c["category"],
                "severity": c["severity"],
                "opened_at": c["opened_at"].isoformat(),
                "status": c["status"],
                "escalated_to": c["escalated_to"],
                "age_days": max((moment - c["opened_at"]).days, 0),
            }
            for c in open_cases
        ],
        "satisfaction_last": str(ratings[-1]) if ratings else None,
        "satisfaction_average": _money(sum(ratings, Decimal(0)) / len(ratings))
        if ratings
        else None,
        "nps": latest.get("nps"),
        "rewards_balance": rewards,
        "warranties": [w for _, w in sorted(warranties.items())],
        "next_service_due": due,
        "campaigns_responded": [c for _, c in sorted(campaigns.items())],
        "interests": sorted(interests),
        "segments": sorted(segments),
        "date_of_birth": born,
        "age": _age(date.fromisoformat(born), moment.date()) if born else None,
        "age_band": latest.get("age_band"),
        "income_band": latest.get("income_band"),
        "household": latest.get("household"),
        "education": latest.get("education"),
        "survey_cooperativeness": (
            {"surveys_answered": len(surveys), "last_answered": max(surveys.values()).isoformat()}
            if surveys
            else None
        ),
        "accessibility_needs": latest.get("accessibility_needs"),
        "verification": latest.get("verification"),
        "consents": consents,
    }


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --- one customer with every profile field set, to distinctive values ---------------------

VERIFICATION_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$+d8nsTGo/OSKEJcpZ+yeng$"
    "F/qRHOMadRWLYjDMVGU9iXXLu+H7jC/hLmPgXV75Oo0"
)
"""``api.verification.hash_answer("SENTINEL-WORD")``."""

SENTINELS: dict[str, dict[str, str]] = {
    # tier → field → a value that appears nowhere else in the customer's data
    "service": {
        "dispatch_instructions": "SENTINEL-DISPATCH",
        "preferred_payment_method": "direct_debit",
        "last_purchase": "SENTINEL-ORDER",
        "products_bought": "SENTINEL-SKU",
        "categories_bought": "SENTINEL-CATEGORY",
        "lifetime_spend": "1234.56",
        "refunded": "77.70",
        "open_complaints": "SENTINEL-CASE",
        "rewards_balance": "SENTINEL-PROGRAMME",
        "warranties": "SENTINEL-WARRANTY",
        "next_service_due": "SENTINEL-SERVICE",
        "campaigns_responded": "SENTINEL-CAMPAIGN",
        "interests": "SENTINEL-INTEREST",
    },
    "restricted": {
        "date_of_birth": "1961-07-14",
        "income_band": "over_100k",
        "household": "widowed",
        "education": "doctorate",
        "accessibility_needs": "SENTINEL-WHEELCHAIR",
        "age_band": "50_64",
        "verification": VERIFICATION_HASH,
    },
}


def full_profile_events(customer: str = "cust-full", *, prefix: str = "f") -> list[Touchpoint]:
    """Every profile field set; every service and restricted value findable by sentinel."""
    day = timedelta(days=1)
    t0 = BASE_TIME
    payloads: list[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]] = [
        (
            "profile.updated",
            {
                "name": {
                    "title": "Ms",
                    "given_name": "Siobhán",
                    "family_name": "Niamh",
                    "pronunciation": "shiv-AWN NEEV",
                },
                "addresses": ADDRESSES[0],
                "phones": PHONES[1],
                "emails": EMAILS[0],
                "preferred_channel": "email",
                "preferred_payment_method": "direct_debit",
                "dispatch_instructions": "SENTINEL-DISPATCH",
                "date_of_birth": "1961-07-14",
                "income_band": "over_100k",
                "household": {"adults": 2, "children": 1, "marital_status": "widowed"},
                "education": "doctorate",
            },
        ),
        (
            "consent.changed",
            {
                "purpose": "marketing",
                "channel": "email",
                "status": "granted",
                "legal_basis": "consent",
                "captured_via": "web preference centre",
            },
        ),
        (
            "purchase.completed",
            {
                "order_id": "SENTINEL-ORDER",
                "lines": [
                    {
                        "sku": "SENTINEL-SKU",
                        "name": "Range cooker",
                        "category": "SENTINEL-CATEGORY",
                        "quantity": 1,
                        "unit_price": "1234.56",
                    }
                ],
                "currency": "EUR",
                "total": "1234.56",
                "payment_method": "card",
            },
        ),
        (
            "refund.issued",
            {
                "refund_id": "RF-1",
                "amount": "77.70",
                "currency": "EUR",
                "method": "card",
                "reason": "return",
            },
        ),
        (
            "complaint.opened",
            {
                "case_id": "SENTINEL-CASE",
                "category": "delivery",
                "severity": "high",
                "description": "Late",
            },
        ),
        (
            "survey.responded",
            {
                "survey_id": "S-9",
                "survey_name": "After-sales",
                "answers": [{"question_id": "q1", "question": "How was it?", "rating": 4}],
                "nps": 3,
                "age_band": "50_64",
            },
        ),
        (
            "rewards.earned",
            {
                "programme": "SENTINEL-PROGRAMME",
                "member_number": "M-77",
                "points": 120,
                "reason": "purchase",
            },
        ),
        (
            "warranty.registered",
            {
                "warranty_id": "SENTINEL-WARRANTY",
                "product_sku": "SKU-9",
                "product_name": "Oven",
                "serial_number": "SN-9",
                "purchase_date": "2026-02-01",
                "place_of_purchase": "our shop",
                "warranty_months": 24,
            },
        ),
        (
            "service.completed",
            {
                "job_id": "J-9",
                "service_type": "SENTINEL-SERVICE",
                "serial_number": "SN-9",
                "completed_on": "2026-03-01",
                "next_due_on": "2027-03-01",
            },
        ),
        ("campaign.responded", {"campaign_code": "SENTINEL-CAMPAIGN", "response": "clicked"}),
        ("interest.declared", {"categories": ["SENTINEL-INTEREST"]}),
        (
            "booking.made",
            {
                "booking_ref": "BK-1",
                "venue": "Gaiety",
                "performance": "Carmen",
                "performance_at": (t0 + 40 * day).isoformat(),
                "seats": [{"section": "Stalls", "row": "C", "number": "7"}],
                "total": "80.00",
                "currency": "EUR",
                "accessibility_needs": "SENTINEL-WHEELCHAIR",
            },
        ),
        (
            "call.logged",
            {"direction": "inbound", "duration_seconds": 60, "reason": "r", "outcome": "o"},
        ),
        ("verification.set", {"kind": "memorable_word", "answer_hash": VERIFICATION_HASH}),
    ]
    return [
        touch(kind, payload, at=t0 + i * day, message_id=f"{prefix}{i:02d}", customer=customer)
        for i, (kind, payload, *_) in enumerate(payloads)
    ]
