"""Audiences follow merges and splits: after ``customer.merged`` (B into A) the survivor's
membership equals an independent recomputation from the merged profile (the profile's fold
of both customers' events) and B is in no audience; after ``customer.split`` each is again
its own. Each entry and exit is numbered once, whatever the batches and restarts.

The reference is the profile's fold read plainly (``test_audience_membership``), sharing
nothing with ``projections.audiences`` but the parsed rules.
"""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Touchpoint
from events.resolved import Resolved
from projections.audiences.families import Families
from projections.audiences.membership import Standing, Transition
from projections.audiences.postgres import AudienceView, fold_batch
from projections.audiences.traits import Traits
from tests.factories import BASE_TIME
from tests.profile_support import touch
from tests.unit.test_audience_membership import RULES, histories, reference_members

A, B = "cust-a", "cust-b"


def _merged(at_day: int) -> Touchpoint:
    payload = {
        "surviving_customer_id": A,
        "merged_customer_ids": [B],
        "reason": "same email",
        "merged_by": "resolver",
    }
    return touch(
        "customer.merged",
        payload,
        at=BASE_TIME + timedelta(days=at_day),
        message_id="merge-1",
        customer=A,
    )


def _split(at_day: int) -> Touchpoint:
    payload = {
        "original_customer_id": A,
        "new_customer_id": B,
        "identifiers_moved": [{"type": "email", "value": "b@example.com"}],
        "reason": "two people",
        "split_by": "Ann",
    }
    return touch(
        "customer.split",
        payload,
        at=BASE_TIME + timedelta(days=at_day),
        message_id="split-1",
        channel="app",
        customer=A,
    )


def _as(customer: str, events: list[Touchpoint]) -> list[Resolved]:
    prefix = customer[-1]
    return [
        Resolved(
            customer_id=customer, event=e.model_copy(update={"message_id": prefix + e.message_id})
        )
        for e in events
    ]


@st.composite
def merged_histories(draw: st.DrawFn) -> tuple[list[Resolved], int, int | None]:
    """Both customers' events interleaved in arrival order, a merge somewhere among them
    and perhaps a split after it; the positions of the two."""
    mine = _as(A, draw(histories(max_size=15)))
    theirs = _as(B, draw(histories(max_size=15)))
    interleaved = draw(st.permutations(mine + theirs))
    merge_at = draw(st.integers(0, len(interleaved)))
    arrived: list[Resolved] = [*interleaved]
    arrived.insert(merge_at, Resolved(customer_id=A, event=_merged(draw(st.integers(0, 300)))))
    split_at = None
    if draw(st.booleans()):
        split_at = draw(st.integers(merge_at + 1, len(arrived)))
        arrived.insert(split_at, Resolved(customer_id=A, event=_split(draw(st.integers(0, 300)))))
    return arrived, merge_at, split_at


def _expected(arrived: list[Resolved], merged: bool) -> dict[str, set[str]]:
    def members(events: list[Touchpoint]) -> set[str]:
        return reference_members(RULES, events) if events else set()

    own = {
        c: [
            r.event
            for r in arrived
            if r.customer_id == c and r.event.type not in ("customer.merged", "customer.split")
        ]
        for c in (A, B)
    }
    if merged:
        return {A: members(own[A] + own[B]), B: set()}
    return {A: members(own[A]), B: members(own[B])}


State = tuple[dict[str, Traits], dict[str, dict[str, Standing]], Families]


def _restart(traits: dict[str, Traits], standings: Any, families: Families) -> State:
    """What a restarted stage loads: the stored JSON, the stored rows."""
    return (
        {c: Traits.from_json(t.to_json()) for c, t in traits.items()},
        copy.deepcopy(standings),
        Families(dict(families.parents)),
    )


def _members(standings: dict[str, dict[str, Standing]], customer: str) -> set[str]:
    return {a for a, s in standings.get(customer, {}).items() if s.member}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=merged_histories(), cuts=st.lists(st.integers(1, 60), max_size=4))
def test_after_a_merge_the_survivor_is_the_merged_profile_and_the_merged_is_in_nothing(
    case: tuple[list[Resolved], int, int | None], cuts: list[int]
) -> None:
    arrived, merge_at, split_at = case
    view = AudienceView(RULES)
    happened = view.changes(arrived)
    assert len(happened) == len(arrived)  # every event states something, merges included
    bounds = sorted({0, len(happened), *(c for c in cuts if c < len(happened))})
    traits: dict[str, Traits] = {}
    standings: dict[str, dict[str, Standing]] = {}
    families = Families()
    transitions: list[Transition] = []
    for start, end in itertools.pairwise(bounds):
        for i in range(start, end):  # one event at a time: membership after each
            folded = fold_batch(RULES, happened[i : i + 1], traits, standings, families)
            families = folded.families
            transitions += folded.transitions
            merged = merge_at <= i and (split_at is None or i < split_at)
            expected = _expected(arrived[: i + 1], merged)
            assert {c: _members(standings, c) for c in (A, B)} == expected, i
        traits, standings, families = _restart(traits, standings, families)

    # the same history in the batches the cuts make gives the same records
    traits, standings, families, batched = {}, {}, Families(), []
    for start, end in itertools.pairwise(bounds):
        folded = fold_batch(RULES, happened[start:end], traits, standings, families)
        batched += folded.transitions
        traits, standings, families = _restart(traits, standings, folded.families)
    assert [t.record() for t in batched] == [t.record() for t in transitions]

    # each customer's changes in each audience alternate, entered first, numbered 1, 2, …
    for audience, customer in itertools.product(RULES.audiences, (A, B)):
        mine = [t for t in transitions if (t.audience, t.customer_id) == (audience.name, customer)]
        assert [t.number for t in mine] == list(range(1, len(mine) + 1))
        assert [t.kind for t in mine] == [
            "audience.entered" if n % 2 else "audience.exited" for n in range(1, len(mine) + 1)
        ]
    assert len({t.id for t in transitions}) == len(transitions)
    # the merge's exits are B's, caused by the merge
    exits = [t for t in transitions if t.caused_by.endswith("/merge-1")]
    assert all(t.kind == "audience.exited" for t in exits if t.customer_id == B)
