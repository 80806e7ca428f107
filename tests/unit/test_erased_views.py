"""Every view reads an event whose personal fields were erased (their key shredded): each
personal payload field reads ``[erased]`` and the subject ``{"anonymous_id": "[erased]"}``.
No view refuses it or fails; what it shows of those fields is ``[erased]``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.catalogue import EVENT_TYPES
from events.resolved import Resolved, resolved_value
from privacy.sealing import ERASED, ERASED_SUBJECT, lenient_resolved, personal_payload_fields
from projections.audiences.postgres import AudienceView
from projections.caller.postgres import _card
from projections.metrics.postgres import MetricsView
from projections.profile.postgres import ProfileView
from projections.recommendations.postgres import CoPurchaseView
from projections.timeline.postgres import TimelineView
from projections.triggers import DEFAULT_RULES, CustomerState, TriggerEngine
from tests.unit.event_documents import documents
from tests.unit.test_audience_membership import RULES


def erased(doc: dict[str, Any]) -> Resolved:
    """``doc`` as a view reads it once its subject's keys are shredded."""
    doc = {**doc, "subject": ERASED_SUBJECT}
    payload = dict(doc.get("payload") or {})
    for name in personal_payload_fields(doc["type"]):
        if payload.get(name) is not None:
            payload[name] = ERASED
    doc["payload"] = payload
    return lenient_resolved(resolved_value("cust-erased", msgspec.json.encode(doc)))


@settings(max_examples=2, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_view_applies_an_erased_event_and_shows_erased(
    type_name: str, data: st.DataObject
) -> None:
    resolved = erased(data.draw(documents(type_name)))
    event = resolved.event
    personal = [
        n for n in personal_payload_fields(type_name) if getattr(event.payload, n) == ERASED
    ]
    assert event.subject.anonymous_id == ERASED

    summary = event.summary()
    assert isinstance(summary, str)

    rows = TimelineView().changes([resolved])
    for row in rows:
        shown = msgspec.json.decode(str(row[8]))  # the payload column
        for name in personal:
            assert shown.get(name) == ERASED, name
    ProfileView().changes([resolved])
    MetricsView().changes([resolved])
    AudienceView(RULES).changes([resolved])
    CoPurchaseView().changes([resolved])
    now = datetime(2030, 1, 1, tzinfo=UTC)
    engine = TriggerEngine(DEFAULT_RULES)
    state, _ = engine.apply(CustomerState(), "cust-erased", event, now)
    engine.advance(state, "cust-erased", now)


def test_a_caller_card_of_an_erased_name_reads_erased() -> None:
    row = {"name": '"[erased]"', "last_contact": None, "open_complaints": 0}
    card = _card("cust-1", row)
    assert card["given_name"] == ERASED
    assert card["family_name"] == ERASED
