"""``touchlog.resolved`` decoded once per process: what every view gets is what the
validating codec gives, a record that does not decode is rejected every time, and the
decodes kept are bounded."""

from __future__ import annotations

import pytest

from benchmarks.pipeline_workload import mixed_events
from events.codec import InvalidEvent
from events.fast_decode import SharedDecodes, shared_resolved
from events.resolved import RESOLVED, encode_resolved
from producers.demo import demo_events

GARBAGE = [
    b"not json",
    b"{}",
    b'{"customer_id": "c", "event": {"type": "nope"}}',
    b'{"customer_id": 7, "event": {}}',
    b"",
    None,
]


def _records() -> list[bytes]:
    events = [*mixed_events(1500, 300, prefix="t-"), *demo_events(15)]
    return [encode_resolved(e.subject.key(), e) for e in events]


def test_every_reader_gets_what_the_validating_codec_gives() -> None:
    records = _records()
    shared = SharedDecodes(RESOLVED)
    expected = RESOLVED.decode_many(records)

    first = shared.decode_many(records)
    # another view of the process reads the same records, as other bytes objects
    second = shared.decode_many([bytes(bytearray(r)) for r in records])

    assert first == expected
    assert second == expected
    kinds = [type(r.event) for r in first if not isinstance(r, InvalidEvent)]
    assert kinds == [type(r.event) for r in expected if not isinstance(r, InvalidEvent)]
    assert (shared.misses, shared.hits) == (len(records), len(records))
    assert [shared.decode(r) for r in records[:50]] == expected[:50]


def test_a_record_that_does_not_decode_is_rejected_for_every_reader() -> None:
    shared = SharedDecodes(RESOLVED)
    expected = RESOLVED.decode_many(GARBAGE)
    assert all(isinstance(e, InvalidEvent) for e in expected)

    for _ in range(2):
        rejected = shared.decode_many(GARBAGE)
        assert [str(r) for r in rejected] == [str(e) for e in expected]
    assert shared.hits == 0
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        shared.decode(b"not json")


def test_bad_records_among_good_ones_keep_their_places() -> None:
    records = _records()[:40]
    mixed = [*records[:20], GARBAGE[2], *records[20:], None]
    shared = SharedDecodes(RESOLVED)
    shared.decode_many(records[:10])

    decoded = shared.decode_many(mixed)

    assert decoded[:20] == RESOLVED.decode_many(records[:20])
    assert isinstance(decoded[20], InvalidEvent)
    assert decoded[21:-1] == RESOLVED.decode_many(records[20:])
    assert isinstance(decoded[-1], InvalidEvent)


def test_the_decodes_kept_are_bounded() -> None:
    records = _records()
    shared = SharedDecodes(RESOLVED, capacity=100)
    shared.decode_many(records)
    shared.decode_many(records[-100:])
    assert shared.hits == 100
    shared.decode_many(records[:1])
    assert shared.hits == 100  # the oldest were let go


def test_one_shared_decoder_per_process() -> None:
    assert shared_resolved() is shared_resolved()
