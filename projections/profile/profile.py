"""Reading a profile out of a customer's facts: as of a moment, and one field over time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from projections.profile.facts import Fact
from projections.profile.fields import FIELDS, ProfileField, Section
from projections.profile.state import ProfileState, fold, in_order


@dataclass(frozen=True, slots=True)
class Profile:
    """Every field's value at ``moment``: ``as_of`` if given, else when it was read."""

    values: dict[str, Any]
    as_of: datetime | None
    moment: datetime
    facts: int


def profile_of(facts: Iterable[Fact], as_of: datetime | None, now: datetime) -> Profile:
    """The fold of the facts with ``occurred_at ≤ as_of`` (every fact if None); values that
    depend on time (tenure, ages, expiry) are taken at ``as_of``, else at ``now``."""
    state = fold(facts, as_of)
    moment = as_of or now
    return Profile(
        {field.name: field.value(state, moment) for field in FIELDS}, as_of, moment, state.facts
    )


def by_section(values: Mapping[str, Any]) -> dict[Section, dict[str, Any]]:
    """Field values grouped by section, in catalogue order."""
    sections: dict[Section, dict[str, Any]] = {}
    for field in FIELDS:
        if field.name in values:
            sections.setdefault(field.in_section, {})[field.name] = values[field.name]
    return sections


class NotHistoried(ValueError):
    """The field changes with time alone: it has a value at a moment, not a history."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    value: Any
    valid_from: datetime
    valid_to: datetime | None
    """When the next value took over; None for the value still current."""
    source_system: str
    message_id: str
    event_type: str


def history(
    field: ProfileField, facts: Iterable[Fact], as_of: datetime | None = None
) -> list[HistoryEntry]:
    """Every value the field took, oldest first, each with the event that set it.

    Facts at the same instant count as one change, attributed to the last of them.
    """
    if field.time_only:
        raise NotHistoried(f"{field.name} changes with time alone; it has no history of values")
    state = ProfileState()
    current = field.read(state)
    entries: list[HistoryEntry] = []
    for fact in in_order(facts):
        if as_of is not None and fact.occurred_at > as_of:
            break
        state.apply(fact)
        if fact.kind not in field.kinds:
            continue
        value = field.read(state)
        if value == current:
            continue
        entry = HistoryEntry(
            value, fact.occurred_at, None, fact.source_system, fact.message_id, fact.event_type
        )
        if entries and entries[-1].valid_from == fact.occurred_at:
            entries.pop()  # the same instant: one change
        if entries and entries[-1].value == value:
            entries[-1] = replace(entries[-1], valid_to=None)  # undone at that instant
        else:
            if entries:
                entries[-1] = replace(entries[-1], valid_to=fact.occurred_at)
            entries.append(entry)
        current = value
    return entries
