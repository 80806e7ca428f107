"""The resolver's part in sealing: a clear event is sealed before it is forwarded, the same
bytes each time (a replay forwards identical records); and the views' shared decoder opens
sealed records, reads erased ones leniently, and refuses a record whose key is unknown."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.arrivals import Arrival, arrivals
from consumers.resolver import IdentityResolver
from events import InvalidEvent, encode, from_mapping
from events.resolved import Resolved, resolved_value
from privacy.keys import KeyRing
from privacy.runtime import Keys, resolved_decoder
from privacy.sealing import ERASED, Opener, Sealer, is_sealed, open_record
from projections.identity import IdentityRules
from tests.factories import make_event
from tests.unit.event_documents import documents
from tests.unit.test_sealing import MemoryKeyStore


def _keys(store: MemoryKeyStore) -> Keys:
    ring = KeyRing(store, cache_seconds=0)
    return Keys(ring, Opener(ring), Sealer(ring))


async def test_a_clear_event_is_forwarded_sealed_and_the_same_bytes_each_time() -> None:
    store = MemoryKeyStore()
    keys = _keys(store)
    resolver = IdentityResolver(IdentityRules(), cast(Any, None), "resolved", keys=keys)
    event = make_event("complaint.opened")
    value = encode(event)
    [arrival] = arrivals(IdentityRules(), [value])
    assert isinstance(arrival, Arrival)
    assert arrival.clear is not None

    first = await resolver._forwarded([arrival])
    again = await resolver._forwarded([arrival])

    forwarded, refs, summary = first[id(arrival)]
    assert forwarded == again[id(arrival)][0]
    assert b"Parcel damaged" not in forwarded
    assert is_sealed(msgspec.json.decode(forwarded)["subject"])
    opened = open_record(forwarded, await keys.ring.opening_keys(store.keys))
    assert opened.value == value
    assert len(refs) == 1
    assert summary is not None
    assert is_sealed(summary)  # it quotes the complaint
    assert summary == again[id(arrival)][2]


async def test_a_sealed_arrival_is_forwarded_as_read() -> None:
    store = MemoryKeyStore()
    keys = _keys(store)
    assert keys.sealer is not None
    await keys.sealer.start()
    ((_, value),) = await keys.sealer.seal([make_event("complaint.opened")])
    [arrival] = arrivals(IdentityRules(), [value], await keys.ring.raw_opening_keys(store.keys))
    assert isinstance(arrival, Arrival)
    assert arrival.clear is None
    resolver = IdentityResolver(IdentityRules(), cast(Any, None), "resolved", keys=keys)
    assert (await resolver._forwarded([arrival]))[id(arrival)][0] is value


async def test_an_erased_subject_has_no_identifiers_to_resolve_by() -> None:
    store = MemoryKeyStore()
    keys = _keys(store)
    assert keys.sealer is not None
    await keys.sealer.start()
    ((ref, value),) = await keys.sealer.seal([make_event("call.logged")])
    await store.shred_subjects({ref.decode()}, "test")
    raw = await keys.ring.raw_opening_keys(store.keys)
    [arrival] = arrivals(IdentityRules(), [value], raw)
    assert isinstance(arrival, Arrival)
    assert arrival.erased_subject == ref.decode()
    assert arrival.identified == ([], [])


async def test_views_open_read_erased_leniently_and_refuse_an_unknown_key() -> None:
    store = MemoryKeyStore()
    keys = _keys(store)
    assert keys.sealer is not None
    await keys.sealer.start()
    decoder = resolved_decoder(keys.opener)
    ((ref, sealed),) = await keys.sealer.seal([make_event("complaint.opened")])
    record = resolved_value("cust-1", sealed)
    foreign = record.replace(ref, b"f" * 32)  # a key id the store never made

    [opened, unknown] = await decoder.decode_records([record, foreign])
    assert isinstance(opened, Resolved)
    assert opened.event.payload.description == "Parcel damaged"
    assert isinstance(unknown, InvalidEvent)
    assert "which the key store does not hold" in str(unknown)

    await store.shred_subjects({ref.decode()}, "test")
    decoder.forget()
    [erased] = await decoder.decode_records([record])
    assert isinstance(erased, Resolved)
    assert erased.event.payload.description == ERASED
    assert erased.event.subject.anonymous_id == ERASED


@settings(max_examples=2, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
async def test_an_erased_decision_is_not_applied(data: st.DataObject) -> None:
    store = MemoryKeyStore()
    keys = _keys(store)
    assert keys.sealer is not None
    await keys.sealer.start()
    decision = from_mapping(data.draw(documents("identity.linked")))
    ((ref, value),) = await keys.sealer.seal([decision])
    await store.shred_subjects({ref.decode()}, "test")
    [arrival] = arrivals(IdentityRules(), [value], await keys.ring.raw_opening_keys(store.keys))
    assert isinstance(arrival, Arrival)
    assert arrival.decision is None
    assert arrival.erased_subject == ref.decode()
