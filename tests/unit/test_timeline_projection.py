"""The timeline projection is a pure function: events in, rows out."""

from __future__ import annotations

import json
from datetime import timedelta

from events import from_mapping
from projections.timeline import project, project_all
from tests.factories import BASE_TIME, event_dict, make_event


def test_one_row_per_event_with_the_timeline_columns() -> None:
    event = make_event(
        "purchase.completed", customer="c-7", message_id="m-1", at=BASE_TIME, channel="web"
    )
    [row] = project(event)
    assert row.subject_key == "c-7"
    assert (row.source_system, row.message_id) == ("test-system", "m-1")
    assert row.occurred_at == BASE_TIME
    assert (row.type, row.channel, row.business_unit) == ("purchase.completed", "web", "retail")
    assert row.summary == "Purchased 2 items for 59.80 EUR (order O-1)"
    assert json.loads(row.payload_json)["lines"][0]["sku"] == "SKU-1"


def test_subject_key_falls_back_to_best_identifier() -> None:
    data = event_dict()
    data["subject"] = {"email": "Ann@Example.com", "phone": "+442071838750"}
    [row] = project(from_mapping(data))
    assert row.subject_key == "email:ann@example.com"


def test_campaign_code_is_kept_for_attribution() -> None:
    data = event_dict()
    data["campaign"] = {"code": "SPRING26", "reference": "DM-4471"}
    [row] = project(from_mapping(data))
    assert row.campaign_code == "SPRING26"


def test_a_republished_event_yields_the_same_row_once() -> None:
    event = make_event(message_id="m-dup")
    later = make_event(message_id="m-2", at=BASE_TIME + timedelta(days=1))
    rows = project_all([event, later, event])
    assert [r.message_id for r in rows] == ["m-dup", "m-2"]
    assert project(event) == project(event)


def test_same_message_id_from_two_sources_are_two_rows() -> None:
    a = event_dict(message_id="m-1")
    b = event_dict(message_id="m-1")
    b["source"]["system"] = "other-system"
    assert len(project_all([from_mapping(a), from_mapping(b)])) == 2


def test_summaries_are_human_one_liners() -> None:
    call = make_event("call.logged")
    [row] = project(call)
    assert row.summary == "Inbound call (3m04s): delivery date → date confirmed"
    for kind in (
        "web_form.submitted",
        "email.received",
        "email.sent",
        "complaint.opened",
        "complaint.resolved",
    ):
        [row] = project(make_event(kind))
        assert row.summary
        assert "\n" not in row.summary
