"""What the resolver reads of each record, parsed where it costs the resolver nothing.

Decoding a touchpoint (full validation: an invalid one is dead-lettered here, before
it reaches any view) and normalising its identifiers (a phone number costs ~50 µs)
are pure and were two-fifths of the resolver's time. They run in the stage's helper
process, which hands back only what resolution needs: the event's reference, its
parsed identifiers and its record value, to be forwarded as read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from events import InvalidEvent, Touchpoint
from events.codec import TOUCHPOINTS
from events.touchpoints.identity import Decision
from projections.identity import EventRef, Identifier, IdentityRules, Rejected
from projections.identity.names import NameKey, name_of

Identified = tuple[list[Identifier], list[Rejected]]


@dataclass(frozen=True, slots=True)
class Arrival:
    """A touchpoint as the resolver needs it."""

    ref: EventRef
    business_unit: str
    correlation_id: str | None
    identified: Identified
    """The subject's usable identifiers, highest priority first, and the rejected ones."""
    value: bytes
    """The record value the event was decoded from: forwarded to ``touchlog.resolved`` as
    read (the bytes in the log are the event; encoding it again costs more than resolving)."""
    decision: Decision | None = None
    """A person's split, confirmed or rejected merge, in full; other events need only the
    envelope."""
    name: NameKey | None = None
    """The person's name, when the event gives one (``names.name_of``): resolution tells
    people on one phone apart by it."""

    def __reduce__(self) -> tuple[type[Arrival], tuple[Any, ...]]:
        # Pickled as its fields: the helper sends thousands a batch, and a slots dataclass's
        # default state (built by ``dataclasses.fields``) costs several times more.
        fields = (self.ref, self.business_unit, self.correlation_id, self.identified)
        return (Arrival, (*fields, self.value, self.decision, self.name))

    @classmethod
    def of(cls, event: Touchpoint, identified: Identified, value: bytes) -> Arrival:
        return cls(
            ref=EventRef(event.source.system, event.message_id, event.occurred_at),
            business_unit=event.source.business_unit,
            correlation_id=event.correlation_id,
            identified=identified,
            value=value,
            decision=event if isinstance(event, Decision) else None,
            name=name_of(event),
        )

    @property
    def message_id(self) -> str:
        return self.ref.message_id


def arrivals(rules: IdentityRules, values: Sequence[bytes | None]) -> list[Arrival | InvalidEvent]:
    """Each record value decoded and its identifiers parsed, or why it is not an event."""
    outcomes = TOUCHPOINTS.decode_many(values)
    events = [o for o in outcomes if not isinstance(o, InvalidEvent)]
    identified = iter(rules.identifiers_of_each(event.subject for event in events))
    result: list[Arrival | InvalidEvent] = []
    for outcome, value in zip(outcomes, values, strict=True):
        if isinstance(outcome, InvalidEvent):
            result.append(outcome)
        else:  # decoded, so the value was there
            result.append(Arrival.of(outcome, next(identified), cast(bytes, value)))
    return result


# In the helper process: rules by their JSON, each with its memo of values already parsed.
_RULES: dict[str, IdentityRules] = {}


def arrivals_in_helper(
    rules_json: str, values: Sequence[bytes | None]
) -> list[Arrival | InvalidEvent]:
    """``arrivals`` for rules given as JSON (what crosses to a helper process)."""
    rules = _RULES.get(rules_json)
    if rules is None:
        if len(_RULES) >= 8:  # e.g. a test suite's many rule sets
            _RULES.clear()
        rules = _RULES[rules_json] = IdentityRules.model_validate_json(rules_json)
    return arrivals(rules, values)
