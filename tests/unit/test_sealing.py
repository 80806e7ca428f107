"""Sealing personal fields: what a producer seals opens to the same event; once the key is
shredded, every personal field reads ``[erased]`` and everything else is unchanged."""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import InvalidEvent, decode, encode, from_mapping
from events.catalogue import EVENT_TYPES
from events.codec import TOUCHPOINTS
from privacy.keys import KeyRing, Slot
from privacy.sealing import (
    ERASED,
    Opener,
    Sealer,
    key_ids,
    lenient_decode,
    open_record,
    personal_payload_fields,
)
from tests.factories import make_event
from tests.unit.event_documents import documents


class MemoryKeyStore:
    """The ``KeyStore`` port in memory (the PostgreSQL one is tested in integration)."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}
        self.live: dict[tuple[str, str], str] = {}

    async def open_keys(self, key_ids: Collection[str]) -> dict[str, bytes | None]:
        return {k: self.keys[k] for k in key_ids if k in self.keys}

    async def sealing_keys(self, slots: Collection[Slot]) -> dict[Slot, tuple[str, bytes]]:
        found = {}
        for ref, period in slots:
            key_id = self.live.get((ref, period.code))
            if key_id is None:
                key_id = f"{ref}_{period.code}_{os.urandom(4).hex()}"
                self.keys[key_id] = os.urandom(32)
                self.live[(ref, period.code)] = key_id
            key = self.keys[key_id]
            assert key is not None
            found[(ref, period)] = (key_id, key)
        return found

    async def shred_subjects(self, refs: Collection[str], reason: str) -> int:
        gone = [k for k in self.keys if k.split("_")[0] in refs and self.keys[k] is not None]
        for key_id in gone:
            self.keys[key_id] = None
        self.live = {s: k for s, k in self.live.items() if s[0] not in refs}
        return len(gone)

    async def shred_expired(self, now: datetime) -> int:
        return 0

    async def pepper(self) -> bytes:
        return b"p" * 32


async def _sealer() -> tuple[Sealer, MemoryKeyStore]:
    store = MemoryKeyStore()
    sealer = Sealer(KeyRing(store, cache_seconds=0))
    await sealer.start()
    return sealer, store


@settings(max_examples=4, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
async def test_sealed_opens_to_the_same_event_and_erased_keeps_the_rest(
    type_name: str, data: st.DataObject
) -> None:
    event = from_mapping(data.draw(documents(type_name)))
    sealer, store = await _sealer()
    ((key, value),) = await sealer.seal([event])

    clear = encode(event)
    for name in ("subject", *personal_payload_fields(type_name)):
        sealed = msgspec.json.decode(value)
        assert (
            name not in sealed.get("payload", {})
            or sealed["payload"][name] is None
            or (str(sealed["payload"][name]).startswith("tlx1."))
        )
    assert len(key) == 32
    assert key != event.subject.key().encode()
    opener = Opener(sealer.ring)
    (opened,) = await opener.open_many([value])
    assert not isinstance(opened, InvalidEvent)
    assert opened is not None
    assert decode(opened.value) == event

    await store.shred_subjects({key.decode()}, "test")
    (erased,) = await opener.open_many([value])
    assert not isinstance(erased, InvalidEvent)
    assert erased is not None
    assert erased.erased
    assert erased.erased_subjects == (key.decode(),)
    shown = lenient_decode(erased.value)
    assert shown.subject.anonymous_id == ERASED
    before = msgspec.json.decode(clear)["payload"]
    after = msgspec.json.decode(encode(shown))["payload"]
    personal = set(personal_payload_fields(type_name))
    for name, was in before.items():
        assert after.get(name) == (ERASED if name in personal else was), name
    assert shown.occurred_at == event.occurred_at
    assert shown.type == event.type


async def test_a_value_sealed_for_another_field_does_not_open() -> None:
    sealer, _ = await _sealer()
    event = make_event("complaint.resolved")
    ((_, value),) = await sealer.seal([event])
    doc = msgspec.json.decode(value)
    doc["payload"]["resolution"] = doc["subject"]  # moved: its associated data no longer holds
    moved = msgspec.json.encode(doc)
    keys = await sealer.ring.opening_keys(key_ids([moved]))
    with pytest.raises(InvalidEvent, match="resolution"):
        open_record(moved, keys)


async def test_an_unknown_key_is_named() -> None:
    sealer, _ = await _sealer()
    ((_, value),) = await sealer.seal([make_event()])
    with pytest.raises(InvalidEvent, match="which the key store does not hold"):
        open_record(value, {})


async def test_clear_records_pass_unchanged() -> None:
    value = encode(make_event())
    assert open_record(value, {}).value == value
    assert TOUCHPOINTS.decode(value).subject == make_event().subject
