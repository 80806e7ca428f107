"""The triggers worker's index of due timers: the same answers as a plain table of each
customer's next timer, and a size that follows the customers with a timer, not the number
of times their timers moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.triggers.clock import COMPACT_SLACK, DueIndex

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARTITIONS = 3

_customer = st.sampled_from([f"c{n}" for n in range(12)])
_note = st.tuples(
    st.just("note"),
    st.integers(0, PARTITIONS - 1),
    _customer,
    st.none() | st.integers(0, 50).map(lambda h: T0 + timedelta(hours=h)),
)
_pop = st.tuples(st.just("pop"), st.integers(0, PARTITIONS - 1), st.integers(0, 50), st.just(None))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_note, _pop), max_size=80))
def test_answers_as_a_table_of_next_timers(steps: list[tuple]) -> None:
    index = DueIndex()
    table: dict[str, tuple[int, datetime]] = {}  # customer → (partition, next timer)
    for kind, partition, who, due in steps:
        if kind == "note":
            index.note(partition, who, due)
            if due is None:
                table.pop(who, None)
            else:
                table[who] = (partition, due)
        else:
            now = T0 + timedelta(hours=who)
            expected = {c for c, (p, d) in table.items() if p == partition and d <= now}
            assert set(index.pop_due(partition, now)) == expected
            for customer in expected:
                del table[customer]
        for p in range(PARTITIONS):
            dues = [d for (q, d) in table.values() if q == p]
            assert index.earliest(p) == (min(dues) if dues else None)


def test_a_timer_moved_again_and_again_leaves_no_pile_of_stale_entries() -> None:
    index = DueIndex()
    customers = [f"c{n}" for n in range(100)]
    for step in range(50_000):  # each customer's timer moved 500 times, always later
        who = customers[step % len(customers)]
        index.note(step % PARTITIONS, who, T0 + timedelta(days=30, seconds=step))
    assert index.entries() <= PARTITIONS * (2 * len(customers) + COMPACT_SLACK + 1)
    due = [c for p in range(PARTITIONS) for c in index.pop_due(p, T0 + timedelta(days=90))]
    assert sorted(due) == sorted(customers)  # each once, wherever its last timer is
    assert all(index.earliest(p) is None for p in range(PARTITIONS))
