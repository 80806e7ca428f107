"""The timeline read straight from resolved records (``projections/timeline/fast.py``)
gives the rows the events themselves give, for every type; the summary the resolver
writes is sealed like the fields it quotes, and opens to the event's own."""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.arrivals import Arrival, arrivals
from consumers.resolver import IdentityResolver
from events import encode, from_mapping
from events.catalogue import EVENT_TYPES
from events.resolved import encode_resolved, resolved_value
from privacy.keys import KeyRing
from privacy.runtime import Keys
from privacy.sealing import Opener, Sealer, is_sealed, open_many
from projections.identity import IdentityRules
from projections.timeline.fast import entries, entries_of_each
from projections.timeline.projection import TimelineEntry, project
from tests.factories import make_event
from tests.unit.event_documents import documents
from tests.unit.test_sealing import MemoryKeyStore


def _comparable(rows: list[TimelineEntry]) -> list[dict[str, Any]]:
    return [
        {
            "key": r.subject_key,
            "source": r.source_system,
            "id": r.message_id,
            "at": r.occurred_at,
            "type": r.type,
            "channel": r.channel,
            "unit": r.business_unit,
            "summary": r.summary,
            "payload": json.loads(r.payload_json),
            "campaign": r.campaign_code,
        }
        for r in rows
    ]


@settings(max_examples=5, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_fast_rows_equal_the_events_rows(type_name: str, data: st.DataObject) -> None:
    event = from_mapping(data.draw(documents(type_name)))
    value = encode_resolved("customer-1", event)
    assert _comparable(entries(value)) == _comparable(project(event, "customer-1"))


def test_a_record_without_a_summary_goes_the_long_way() -> None:
    event = make_event("complaint.opened")
    older = resolved_value("customer-1", encode(event))  # no summary given
    assert b'"summary"' not in older
    assert _comparable(entries(older)) == _comparable(project(event, "customer-1"))


async def test_the_resolvers_summary_is_sealed_and_opens_to_the_events() -> None:
    store = MemoryKeyStore()
    ring = KeyRing(store, cache_seconds=0)
    keys = Keys(ring, Opener(ring), Sealer(ring))
    assert keys.sealer is not None
    await keys.sealer.start()
    event = make_event("complaint.opened")
    ((_, sealed),) = await keys.sealer.seal([event])
    raw = await ring.raw_opening_keys(store.keys)

    [arrival] = arrivals(IdentityRules(), [sealed], raw, ring.nonce_key())
    [again] = arrivals(IdentityRules(), [sealed], raw, ring.nonce_key())
    assert isinstance(arrival, Arrival)
    assert isinstance(again, Arrival)
    assert arrival.summary is not None
    assert is_sealed(arrival.summary)
    assert arrival.summary == again.summary  # a replay forwards the same bytes
    assert event.summary() not in arrival.summary

    resolver = IdentityResolver(IdentityRules(), cast(Any, None), "resolved", keys=keys)
    value, _, summary = (await resolver._forwarded([arrival]))[id(arrival)]
    record = resolved_value("customer-1", value, summary)
    assert b"Parcel damaged" not in record
    [rows] = entries_of_each(open_many([record], await ring.opening_keys(store.keys)))
    assert not isinstance(rows, Exception)
    assert _comparable(rows) == _comparable(project(event, "customer-1"))

    await store.shred_subjects({key_id.split("_")[0] for key_id in store.keys}, "test")
    [erased] = entries_of_each(open_many([record], await ring.opening_keys(store.keys)))
    assert not isinstance(erased, Exception)
    # Read the long way: the summary is made again from what is left, nothing personal.
    assert "Parcel damaged" not in erased[0].summary + erased[0].payload_json
    payload = msgspec.json.decode(erased[0].payload_json)
    assert payload["description"] == "[erased]"
    assert payload["case_id"] == event.payload.case_id
