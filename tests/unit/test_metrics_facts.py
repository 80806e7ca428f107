"""What the metrics read from one event: campaign responses by each way they are traced,
bands, problems, staff; identity decisions are not contacts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from events.codec import from_mapping
from events.resolved import Resolved
from projections.metrics.facts import age_band, fact_of
from projections.metrics.readers import to_csv
from tests.factories import event_dict


def _event(kind: str, payload: dict[str, Any], **envelope: Any) -> Any:
    data = event_dict("call.logged")
    data.update(type=kind, payload=payload, **envelope)
    return from_mapping(data)


def test_a_campaign_response_is_traced_by_code_reference_line_and_landing_page() -> None:
    response = _event(
        "campaign.responded",
        {
            "campaign_code": "SPRING",
            "response": "clicked",
            "reference_number": "REF-1",
            "campaign_phone_number": "+33800100200",
            "landing_url": "https://shop.example.com/spring?utm_source=mail",
        },
    )
    fact = fact_of(response)
    assert fact is not None
    assert fact.responses == (
        ("code", "SPRING"),
        ("reference", "REF-1"),
        ("phone_line", "+33800100200"),
        ("landing_url", "https://shop.example.com/spring"),
    )


def test_a_call_carrying_a_campaign_answers_it_by_the_line_dialled() -> None:
    call = _event(
        "call.logged",
        {
            "direction": "inbound",
            "duration_seconds": 60,
            "reason": "offer",
            "outcome": "ordered",
            "dialled_number": "+33800100300",
            "agent_id": "AG-7",
        },
        campaign={"code": "SUMMER"},
    )
    fact = fact_of(Resolved(customer_id="C-9", event=call))
    assert fact is not None
    assert fact.customer_id == "C-9"
    assert fact.responses == (("code", "SUMMER"), ("phone_line", "+33800100300"))
    assert fact.staff == ("agent", "AG-7")


def test_a_purchase_brings_revenue_categories_and_its_store() -> None:
    data = event_dict("purchase.completed")
    data["payload"]["store_id"] = "ST-1"
    fact = fact_of(from_mapping(data))
    assert fact is not None
    assert (fact.revenue, fact.bought, fact.staff) == (
        Decimal("59.80"),
        ("garden",),
        ("store", "ST-1"),
    )


def test_low_ratings_name_their_topic_and_bands_are_read() -> None:
    survey = _event(
        "survey.responded",
        {
            "survey_id": "S",
            "survey_name": "How did we do?",
            "answers": [
                {"question_id": "Q1", "question": "Delivery time", "rating": 1},
                {"question_id": "Q2", "question": "Staff", "rating": 5},
            ],
            "nps": 9,
            "age_band": "25_34",
        },
    )
    fact = fact_of(survey)
    assert fact is not None
    assert fact.low_topics == ("Delivery time",)
    assert fact.rated_topics == ("Delivery time", "Staff")
    assert (fact.ratings, fact.nps, fact.age_band) == ((1, 5), 9, "25_34")


def test_identity_decisions_are_not_contacts() -> None:
    linked = _event(
        "identity.linked",
        {
            "customer_id": "C-1",
            "identifier": {"type": "email", "value": "a@example.com"},
            "rule": "verified email",
            "confidence": "exact",
        },
    )
    assert fact_of(linked) is None


def test_age_bands() -> None:
    on = date(2026, 6, 15)
    assert age_band(date(2008, 6, 16), on) == "under_18"
    assert age_band(date(2008, 6, 15), on) == "18_24"
    assert age_band(date(1991, 6, 15), on) == "35_49"
    assert age_band(date(1961, 6, 16), on) == "50_64"
    assert age_band(date(1961, 6, 15), on) == "65_plus"


def test_csv_never_hands_a_spreadsheet_a_formula() -> None:
    rows = [{"topic": '=HYPERLINK("http://evil")', "low": -3, "share": 0.5}]
    assert to_csv(rows).splitlines() == [
        "topic,low,share",
        '"\'=HYPERLINK(""http://evil"")",-3,0.5',
    ]
