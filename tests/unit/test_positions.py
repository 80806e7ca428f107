"""The gate between ``getmany`` and a batch, the merge's duplicate guard, outage timing."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from consumers.ordering import TimestampMerge
from consumers.outage import Outage
from consumers.positions import Positions


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    timestamp: int = 0


def recs(partition: int, *offsets: int) -> list[Rec]:
    return [Rec(partition, o, timestamp=o) for o in offsets]


def test_records_of_an_unsettled_partition_never_pass() -> None:
    positions = Positions()
    positions.settle(1, 0)
    accepted = positions.accept({"p0": recs(0, 0, 1, 2), "p1": recs(1, 0, 1)})
    assert accepted == {"p1": recs(1, 0, 1)}


def test_records_fetched_before_a_seek_are_not_applied_after_it() -> None:
    """Fetched from 0 before the listener sought to the stored offset 5: dropped; the
    same records fetched again after the seek pass once."""
    positions = Positions()
    assert positions.accept({"p": recs(0, 0, 1, 2, 3, 4, 5, 6)}) == {}
    positions.settle(0, 5)
    assert positions.accept({"p": recs(0, 3, 4, 5, 6)}) == {"p": recs(0, 5, 6)}
    assert positions.accept({"p": recs(0, 5, 6, 7)}) == {"p": recs(0, 7)}, "no record twice"
    assert positions.fetched_to(0) == 8


def test_unsettle_stops_everything_until_settled_again() -> None:
    positions = Positions()
    positions.settle(0, 0)
    positions.unsettle()
    assert positions.accept({"p": recs(0, 0)}) == {}
    assert positions.unsettled([0, 1]) == {0, 1}


def test_a_batch_knows_where_each_of_its_partitions_starts() -> None:
    positions = Positions()
    positions.settle(0, 10)
    positions.settle(1, 0)
    assert positions.release(recs(0, 10, 11) + recs(1, 0)) == {0: 10, 1: 0}
    assert positions.release(recs(0, 14, 15)) == {0: 12}, "gaps in offsets are allowed"


def test_the_merge_never_holds_two_copies_of_one_record() -> None:
    merge = TimestampMerge()
    merge.add({"a": recs(0, 0, 1, 2)})
    merge.add({"a": recs(0, 1, 2, 3)})
    released = merge.release(["a"], lambda tp: True, limit=100)
    assert [r.offset for r in released] == [0, 1, 2, 3]
    merge.reset()
    merge.add({"a": recs(0, 0)})
    assert [r.offset for r in merge.release(["a"], lambda tp: True, 10)] == [0]


def test_an_outage_is_waited_out_until_it_lasted_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    outage = Outage(tolerance_s=60)
    delays = []
    while (delay := outage.failed()) is not None:
        delays.append(delay)
        now[0] += delay
    assert sum(delays[:-1]) <= 60 < sum(delays) + 10, "gives up only once 60 s have passed"
    assert max(delays) == 10.0
    outage.ended()
    assert outage.failed() == pytest.approx(0.4), "a new outage starts from a short delay"
