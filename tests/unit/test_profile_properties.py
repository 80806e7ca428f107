"""Acceptance 1, pure: the profile as of T is the fold of the customer's events until T.

Events arrive in any order (late, out of order, ties in time, re-published copies); the
facts they project are folded at read time. ``tests.profile_support.reference_profile``
walks the events in time order instead; both must agree at every moment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Touchpoint
from projections.profile import FIELDS, history, profile_of, project_all
from tests.factories import BASE_TIME
from tests.profile_support import customer_events, reference_profile

FAR_FUTURE = BASE_TIME + timedelta(days=10_000)


def _moments(events: list[Touchpoint], extra: list[int]) -> list[Any]:
    times = sorted({e.occurred_at for e in events})
    around = [t + timedelta(seconds=s) for t in times for s in (-1, 0, 1)]
    return [
        BASE_TIME - timedelta(days=1),
        *around,
        *(BASE_TIME + timedelta(hours=h) for h in extra),
    ]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=customer_events(), extra=st.lists(st.integers(0, 24 * 500), max_size=3))
def test_the_profile_as_of_any_moment_is_the_fold_of_the_events_until_then(
    events: list[Touchpoint], extra: list[int]
) -> None:
    facts = project_all(events)  # arrival order, copies included
    for moment in _moments(events, extra):
        assert profile_of(facts, moment, FAR_FUTURE).values == reference_profile(events, moment)
    current = profile_of(facts, None, FAR_FUTURE).values
    assert current == reference_profile(events, FAR_FUTURE)


def _stable(value: Any) -> Any:
    """A history value is the stored one: without what is taken at a moment (ages, expiry)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in ("expired", "age_days")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=customer_events())
def test_a_fields_history_lists_each_value_it_had_with_when_it_held(
    events: list[Touchpoint],
) -> None:
    facts = project_all(events)
    for field in FIELDS:
        if field.time_only:
            continue
        entries = history(field, facts)
        for i, entry in enumerate(entries):
            following = entries[i + 1] if i + 1 < len(entries) else None
            assert entry.valid_from < (entry.valid_to or FAR_FUTURE)
            held_from = reference_profile(events, entry.valid_from)[field.name]
            assert _stable(held_from) == entry.value, field.name
            if entry.valid_to is not None:
                assert following is not None
                assert following.valid_from == entry.valid_to
                until = reference_profile(events, entry.valid_to - timedelta(microseconds=1))
                assert _stable(until[field.name]) == entry.value, field.name
                assert following.value != entry.value
        if entries:
            assert entries[-1].valid_to is None
            assert _stable(reference_profile(events, FAR_FUTURE)[field.name]) == entries[-1].value
