"""Every trigger rule in simulated time: it fires when it should and stays silent when not."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from projections.triggers import (
    Audience,
    CustomerState,
    Kind,
    Suppression,
    decode_state,
    encode_state,
)
from tests.factories import BASE_TIME
from tests.triggers_support import Life, complaint, consent, purchase, survey, touchpoint

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

CROSS_SELL = {
    "name": "jumper-to-jacket",
    "type": "cross_sell",
    "bought": "jumpers",
    "offer": "jackets",
    "within_days": 30,
}


def consented(life: Life) -> None:
    life.event("consent.changed", consent("granted", "email"))


# -- cross-sell -------------------------------------------------------------------------


def test_cross_sell_offers_the_other_category_when_nothing_was_bought_in_it() -> None:
    life = Life([CROSS_SELL])
    consented(life)
    bought = life.event("purchase.completed", purchase("jumpers"), after=HOUR)
    assert life.wait(29 * DAY) == []
    [offer] = life.wait(DAY)
    assert (offer.rule, offer.kind, offer.offer, offer.channel) == (
        "jumper-to-jacket",
        Kind.MARKETING,
        "jackets",
        "email",
    )
    assert offer.evidence == (bought,)
    assert offer.created_at == life.now
    assert offer.expires_at == life.now + 14 * DAY
    assert "no jackets within 30 days" in offer.reason


def test_cross_sell_stays_silent_when_the_other_category_was_bought() -> None:
    life = Life([CROSS_SELL])
    consented(life)
    life.event("purchase.completed", purchase("jumpers"))
    life.event("purchase.completed", purchase("jackets"), after=10 * DAY)
    assert life.wait(60 * DAY) == []
    assert life.triggers == []


def test_cross_sell_ignores_purchases_in_other_categories() -> None:
    life = Life([CROSS_SELL])
    consented(life)
    life.event("purchase.completed", purchase("toys"))
    assert life.wait(90 * DAY) == []


# -- service reminder -------------------------------------------------------------------


def _service(next_due: date, serial: str = "SN-1") -> dict[str, object]:
    return {
        "job_id": "J-1",
        "service_type": "boiler service",
        "serial_number": serial,
        "completed_on": "2026-03-01",
        "next_due_on": next_due.isoformat(),
    }


def test_service_reminder_fires_days_before_the_next_due_date() -> None:
    life = Life([{"name": "service-due", "type": "service_reminder", "days_before": 14}])
    life.event("service.completed", _service(date(2027, 3, 1)))
    assert life.until(life.now.replace(year=2027, month=2, day=15, hour=8)) == []
    [reminder] = life.wait(2 * HOUR)
    assert (reminder.kind, reminder.audience) == (Kind.SERVICE, Audience.SERVICE)
    assert "due on 2027-03-01" in reminder.reason
    assert reminder.suppressed is None, "service tasks need no marketing consent"


def test_service_reminder_follows_the_newest_visit_only() -> None:
    life = Life([{"name": "service-due", "type": "service_reminder", "days_before": 14}])
    life.event("service.completed", _service(date(2026, 9, 1)))
    life.event("service.completed", _service(date(2027, 9, 1)), after=30 * DAY)
    assert life.until(life.now.replace(year=2027, month=8, day=1)) == []
    [reminder] = life.wait(30 * DAY)
    assert "2027-09-01" in reminder.reason


def test_service_reminder_before_a_warranty_ends() -> None:
    life = Life([{"name": "service-due", "type": "service_reminder", "days_before": 30}])
    life.event(
        "warranty.registered",
        {
            "warranty_id": "W-9",
            "product_sku": "SKU-AP-4410",
            "product_name": "Washing machine",
            "serial_number": "SN-9",
            "purchase_date": "2026-02-20",
            "place_of_purchase": "web",
            "warranty_months": 24,
        },
    )
    assert life.until(life.now.replace(year=2028, month=1, day=20)) == []
    [reminder] = life.wait(2 * DAY)
    assert "ends on 2028-02-20" in reminder.reason


def test_no_service_reminder_without_a_next_due_date() -> None:
    life = Life([{"name": "service-due", "type": "service_reminder"}])
    job = _service(date(2027, 1, 1))
    del job["next_due_on"]
    life.event("service.completed", job)
    assert life.wait(800 * DAY) == []


# -- complaint escalation ---------------------------------------------------------------

ESCALATION = {
    "name": "complaint-sla",
    "type": "complaint_escalation",
    "sla_hours": {"low": 120, "medium": 72, "high": 24, "critical": 4},
}


@pytest.mark.parametrize(("severity", "sla"), [("critical", 4), ("high", 24), ("low", 120)])
def test_complaint_open_beyond_its_sla_is_escalated_to_a_manager(severity: str, sla: int) -> None:
    life = Life([ESCALATION])
    opened = life.event("complaint.opened", complaint(severity=severity))
    assert life.wait((sla - 1) * HOUR) == []
    [task] = life.wait(HOUR)
    assert (task.kind, task.audience, task.evidence) == (Kind.SERVICE, Audience.MANAGER, (opened,))
    assert f"still open after {sla} h" in task.reason


def test_complaint_resolved_within_its_sla_is_not_escalated() -> None:
    life = Life([ESCALATION])
    life.event("complaint.opened", complaint())
    life.event(
        "complaint.resolved",
        {"case_id": "C-1", "resolution": "Refunded", "resolved_by": "agent-7"},
        after=20 * HOUR,
    )
    assert life.wait(10 * DAY) == []


# -- re-engagement ----------------------------------------------------------------------

REENGAGE = {"name": "come-back", "type": "re_engagement", "min_views": 3, "within_days": 14}


def _view(category: str = "jackets") -> dict[str, object]:
    return {"sku": "SKU-CL-7720", "name": "Waxed jacket", "category": category}


def test_three_views_and_no_purchase_bring_an_offer() -> None:
    life = Life([REENGAGE])
    consented(life)
    views = [life.event("product.viewed", _view(), after=DAY) for _ in range(3)]
    assert life.wait(13 * DAY) == []
    [offer] = life.wait(DAY)
    assert (offer.offer, offer.evidence) == ("jackets", tuple(views))


def test_two_views_are_not_enough() -> None:
    life = Life([REENGAGE])
    consented(life)
    life.event("product.viewed", _view())
    life.event("product.viewed", _view(), after=DAY)
    assert life.wait(60 * DAY) == []


def test_views_spread_beyond_the_window_do_not_count() -> None:
    life = Life([REENGAGE])
    consented(life)
    for _ in range(3):
        life.event("product.viewed", _view(), after=20 * DAY)
    assert life.wait(60 * DAY) == []


def test_declared_interest_then_a_purchase_stays_silent() -> None:
    life = Life([REENGAGE])
    consented(life)
    life.event("interest.declared", {"categories": ["jackets"]})
    life.event("purchase.completed", purchase("jackets"), after=3 * DAY)
    assert life.wait(30 * DAY) == []


def test_declared_interest_without_a_purchase_brings_an_offer() -> None:
    life = Life([REENGAGE])
    consented(life)
    life.event("interest.declared", {"categories": ["jackets", "boots"]})
    offers = life.wait(14 * DAY)
    assert sorted(o.offer for o in offers if o.suppressed is None) == ["boots", "jackets"]
    assert len({o.trigger_id for o in offers}) == 2, "one event, two offers, two ids"


# -- survey follow-up -------------------------------------------------------------------

SURVEY = {"name": "unhappy-call-back", "type": "survey_follow_up", "max_rating": 2, "max_nps": 6}


@pytest.mark.parametrize(("rating", "nps"), [(2, 9), (5, 6), (1, 0)])
def test_a_low_rating_or_nps_asks_service_to_call_back(rating: int, nps: int) -> None:
    life = Life([SURVEY])
    life.email = None
    life.event("survey.responded", survey(rating, nps))
    [task] = life.triggers
    assert (task.kind, task.audience, task.channel) == (Kind.SERVICE, Audience.SERVICE, "phone")
    assert task.reason.startswith("Call back:")


@pytest.mark.parametrize(("rating", "nps"), [(3, 7), (5, None), (4, 10)])
def test_a_fair_survey_asks_for_nothing(rating: int, nps: int | None) -> None:
    life = Life([SURVEY])
    life.event("survey.responded", survey(rating, nps))
    assert life.triggers == []


# -- VIP --------------------------------------------------------------------------------

VIP = {"name": "vip", "type": "vip", "threshold": 1000}


def test_vip_fires_once_when_lifetime_spend_crosses_the_threshold() -> None:
    life = Life([VIP])
    consented(life)
    life.event("purchase.completed", purchase("home", "600.00"))
    assert life.triggers == []
    crossing = life.event("purchase.completed", purchase("home", "500.00"), after=DAY)
    life.event("purchase.completed", purchase("home", "900.00"), after=DAY)
    [vip] = life.triggers
    assert vip.evidence == (crossing,)
    assert "1,100.00 crossed 1,000.00" in vip.reason


def test_refunds_count_against_the_threshold() -> None:
    life = Life([VIP])
    consented(life)
    life.event("purchase.completed", purchase("home", "600.00"))
    life.event(
        "refund.issued",
        {
            "refund_id": "R-1",
            "amount": "300.00",
            "currency": "EUR",
            "method": "card",
            "reason": "return",
        },
        after=DAY,
    )
    life.event("purchase.completed", purchase("home", "500.00"), after=DAY)
    assert life.triggers == []


# -- lapse risk -------------------------------------------------------------------------

LAPSE = {"name": "lapse", "type": "lapse_risk", "silent_days": 90, "min_purchases": 2}


def test_an_active_customer_silent_for_long_is_at_risk() -> None:
    life = Life([LAPSE])
    consented(life)
    life.event("purchase.completed", purchase("home"), after=DAY)
    last = life.event("purchase.completed", purchase("home"), after=10 * DAY)
    assert life.wait(89 * DAY) == []
    [risk] = life.wait(DAY)
    assert risk.evidence == (last,)


def test_a_customer_who_comes_back_is_not_at_risk() -> None:
    life = Life([LAPSE])
    consented(life)
    life.event("purchase.completed", purchase("home"))
    life.event("purchase.completed", purchase("home"), after=DAY)
    life.wait(80 * DAY)
    life.event(
        "call.logged",
        {
            "direction": "inbound",
            "duration_seconds": 60,
            "reason": "opening hours",
            "outcome": "told",
        },
    )
    assert life.wait(80 * DAY) == []
    assert life.triggers == []


def test_silence_counts_from_the_latest_activity() -> None:
    life = Life([LAPSE])
    consented(life)
    life.event("purchase.completed", purchase("home"))
    life.event("purchase.completed", purchase("home"), after=DAY)
    back = life.event("product.viewed", _view(), after=60 * DAY)
    came_back = life.now
    # One tick long after: the risk is dated 90 days after the visit, not the purchase.
    [risk] = life.wait(100 * DAY)
    assert risk.evidence == (back,)
    assert risk.created_at == came_back + 90 * DAY
    assert life.wait(400 * DAY) == []


def test_a_one_off_buyer_is_not_at_risk() -> None:
    life = Life([LAPSE])
    consented(life)
    life.event("purchase.completed", purchase("home"))
    assert life.wait(200 * DAY) == []


# -- consent, complaints, caps ----------------------------------------------------------


def test_without_consent_a_marketing_trigger_is_suppressed_with_the_reason() -> None:
    life = Life([CROSS_SELL])
    life.event("purchase.completed", purchase("jumpers"))
    life.wait(30 * DAY)
    assert life.emitted() == []
    [held] = life.suppressed()
    assert held.suppressed is Suppression.NO_CONSENT
    assert "email: no consent recorded" in (held.suppressed_reason or "")


def test_revoked_consent_suppresses_what_a_grant_would_have_sent() -> None:
    life = Life([CROSS_SELL])
    consented(life)
    life.event("purchase.completed", purchase("jumpers"))
    life.event("consent.changed", consent("revoked", None), after=DAY)
    life.wait(30 * DAY)
    assert life.emitted() == []
    assert "email: revoked" in (life.suppressed()[0].suppressed_reason or "")


def test_consent_on_a_channel_without_contact_details_is_not_usable() -> None:
    life = Life([CROSS_SELL])
    life.email = None
    life.event("consent.changed", consent("granted", "sms"))
    life.event("purchase.completed", purchase("jumpers"))
    life.wait(30 * DAY)
    [held] = life.suppressed()
    assert "sms: no contact details" in (held.suppressed_reason or "")


def test_an_open_complaint_holds_back_marketing_but_not_service() -> None:
    life = Life([CROSS_SELL, ESCALATION])
    consented(life)
    life.event("purchase.completed", purchase("jumpers"))
    life.event("complaint.opened", complaint(severity="low"), after=DAY)
    life.wait(6 * DAY)
    life.wait(24 * DAY)
    [held] = life.suppressed()
    assert held.suppressed is Suppression.OPEN_COMPLAINT
    assert [t.rule for t in life.emitted()] == ["complaint-sla"]


def test_frequency_cap_per_channel() -> None:
    life = Life([CROSS_SELL, REENGAGE], frequency_cap={"max": 1, "per_days": 7})
    consented(life)
    life.event("purchase.completed", purchase("jumpers"))
    life.event("interest.declared", {"categories": ["jackets"]}, after=16 * DAY)
    life.wait(14 * DAY)
    assert [t.rule for t in life.emitted()] == ["jumper-to-jacket"]
    [capped] = life.suppressed()
    assert capped.suppressed is Suppression.FREQUENCY_CAP


# -- determinism and replays ------------------------------------------------------------


def test_a_replayed_event_or_timer_decides_nothing_twice() -> None:
    life = Life([SURVEY, ESCALATION])
    life.event("complaint.opened", complaint())
    saved = decode_state(encode_state(life.state))
    life.event("survey.responded", survey(1, 2))
    assert len(life.triggers) == 1
    life.wait(2 * DAY)
    assert len(life.triggers) == 2
    # The same history from the saved state (as after a restart) makes the same triggers.
    again = Life([SURVEY, ESCALATION])
    again.state, again.now = saved, life.now - 2 * DAY
    _, fired = again.engine.advance(again.state, life.customer, life.now)
    assert fired[0] == life.triggers[1]


def test_old_history_does_not_fire_stale_triggers() -> None:
    engine = Life([SURVEY]).engine
    bad = touchpoint("survey.responded", "cust-1", BASE_TIME, survey(1, 0), message_id="old-1")
    # Read 30 days later (an import, a replay), the call-back would already have expired...
    assert engine.apply(CustomerState(), "cust-1", bad, BASE_TIME + 30 * DAY)[1] == []
    # ...read the same day, it is due.
    _, [call_back] = engine.apply(CustomerState(), "cust-1", bad, BASE_TIME + HOUR)
    assert call_back.evidence == ("old-1",)


def test_state_survives_encoding() -> None:
    life = Life([CROSS_SELL, REENGAGE, ESCALATION, VIP, LAPSE])
    consented(life)
    life.event("purchase.completed", purchase("jumpers", "2000"))
    life.event("product.viewed", _view(), after=HOUR)
    life.event("complaint.opened", complaint(), after=HOUR)
    assert decode_state(encode_state(life.state)) == life.state
