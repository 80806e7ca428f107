"""What the resolver reads of each record, parsed where it costs the resolver nothing.

Decoding a touchpoint (full validation: an invalid one is dead-lettered here, before
it reaches any view) and normalising its identifiers (a phone number costs ~50 µs)
are pure and were two-fifths of the resolver's time. They run in the stage's helper
process, which hands back only what resolution needs: the event's reference, its
parsed identifiers and its record value, to be forwarded as read.

A sealed record (``privacy.sealing``) is opened there first, with the raw data keys the
resolver fetched for the batch: the event is validated opened, and forwarded sealed, as
read. A subject whose key was shredded reads ``[erased]``: it has no identifiers to
resolve by (the resolver finds its customer among the erasures), and its erased payload
fields are kept as ``[erased]`` (``privacy.sealing.lenient_decode``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events import InvalidEvent, Touchpoint
from events.codec import TOUCHPOINTS, encode
from events.touchpoints.identity import Decision
from privacy.keys import as_mapping
from privacy.sealing import Opened, lenient_decode, open_many, seal_value
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
    """The record value the event was decoded from: a sealed one is forwarded to
    ``touchlog.resolved`` as read (the bytes in the log are the event; encoding it again
    costs more than resolving); a clear one in the canonical form, ``events.encode``."""
    decision: Decision | None = None
    """A person's split, confirmed or rejected merge, in full; other events need only the
    envelope."""
    name: NameKey | None = None
    """The person's name, when the event gives one (``names.name_of``): resolution tells
    people on one phone apart by it."""
    subject_refs: tuple[str, ...] = ()
    """The refs of the data subjects the record was sealed for (none: it came in clear)."""
    erased_subject: str | None = None
    """The ref of its subject when that subject's key was shredded (it reads ``[erased]``)."""
    clear: tuple[str, str] | None = None
    """A record that came in clear: its subject's key and type, for the resolver to seal it
    before forwarding (``None`` for a sealed record)."""
    summary: str | None = None
    """``event.summary()`` for the resolved record: sealed with the subject's key when the
    record was sealed, in clear when it came in clear (the resolver seals it with the rest)
    or when its key was shredded (it then quotes nothing personal)."""

    def __reduce__(self) -> tuple[type[Arrival], tuple[Any, ...]]:
        # Pickled as its fields: the helper sends thousands a batch, and a slots dataclass's
        # default state (built by ``dataclasses.fields``) costs several times more.
        fields = (self.ref, self.business_unit, self.correlation_id, self.identified)
        privacy = (self.subject_refs, self.erased_subject, self.clear, self.summary)
        return (Arrival, (*fields, self.value, self.decision, self.name, *privacy))

    @classmethod
    def of(
        cls,
        event: Touchpoint,
        identified: Identified,
        value: bytes,
        opened: Opened | None = None,
        summary: str | None = None,
    ) -> Arrival:
        erased = opened is not None and opened.erased
        erased_subject = opened.erased_subjects[0] if opened and opened.erased_subjects else None
        sealed = opened is not None and bool(opened.subject_refs)
        return cls(
            ref=EventRef(event.source.system, event.message_id, event.occurred_at),
            business_unit=event.source.business_unit,
            correlation_id=event.correlation_id,
            identified=([], []) if erased_subject else identified,
            # A record that came in clear goes on in the canonical form (the form a
            # producer that seals sends), so that every reader meets one form of a field.
            value=value if sealed else encode(event),
            # An erased decision (its identifiers read "[erased]") cannot be applied: it is
            # resolved as any event of its (erased) subject.
            decision=event if isinstance(event, Decision) and not erased else None,
            name=None if erased else name_of(event),
            subject_refs=opened.subject_refs if opened is not None else (),
            erased_subject=erased_subject,
            clear=None if sealed else (event.subject.key(), event.type),
            summary=event.summary() if summary is None else summary,
        )

    @property
    def message_id(self) -> str:
        return self.ref.message_id


_SUBJECT_KEY = re.compile(rb'"subject"\s*:\s*"tlx1\.([A-Za-z0-9_-]{8,120})\.')


def _summary(
    event: Touchpoint,
    value: bytes,
    opened: Opened,
    ciphers: Mapping[str, AESGCM | None],
    nonce_key: bytes | None,
) -> str:
    """The event's summary as the resolved record carries it: sealed with the key its
    subject was sealed with (a deterministic nonce: a replay forwards the same bytes)."""
    summary = event.summary()
    if not opened.subject_refs or opened.erased:
        return summary  # came in clear (sealed later, with the rest), or quotes [erased]
    found = _SUBJECT_KEY.search(value)
    key_id = found.group(1).decode() if found else None
    aead = ciphers.get(key_id) if key_id else None
    if key_id is None or aead is None:
        return summary  # a producer sealing payload fields only: nothing personal quoted
    return seal_value(aead, key_id, "summary", summary, nonce_key)


def arrivals(
    rules: IdentityRules,
    values: Sequence[bytes | None],
    keys: Mapping[str, bytes | None] | None = None,
    nonce_key: bytes | None = None,
) -> list[Arrival | InvalidEvent]:
    """Each record value opened (with ``keys``: data key id → raw key, None once
    shredded), decoded and its identifiers parsed, or why it is not an event."""
    ciphers = as_mapping(keys or {})
    opened = open_many(values, ciphers)
    clear = [o.value if isinstance(o, Opened) and not o.erased else None for o in opened]
    decoded = TOUCHPOINTS.decode_many(clear)
    outcomes: list[Touchpoint | InvalidEvent] = []
    for o, d in zip(opened, decoded, strict=True):
        if isinstance(o, InvalidEvent):
            outcomes.append(o)
        elif isinstance(o, Opened) and o.erased:
            try:
                outcomes.append(lenient_decode(o.value))
            except InvalidEvent as exc:
                outcomes.append(exc)
        else:
            outcomes.append(d)
    events = [o for o in outcomes if not isinstance(o, InvalidEvent)]
    identified = iter(rules.identifiers_of_each(event.subject for event in events))
    result: list[Arrival | InvalidEvent] = []
    for outcome, value, o in zip(outcomes, values, opened, strict=True):
        if isinstance(outcome, InvalidEvent):
            result.append(outcome)
        else:  # decoded, so the value was there
            assert value is not None  # noqa: S101
            assert isinstance(o, Opened)  # noqa: S101
            summary = _summary(outcome, value, o, ciphers, nonce_key)
            result.append(Arrival.of(outcome, next(identified), value, o, summary))
    return result


# In the helper process: rules by their JSON, each with its memo of values already parsed.
_RULES: dict[str, IdentityRules] = {}


def arrivals_in_helper(
    rules_json: str,
    values: Sequence[bytes | None],
    keys: Mapping[str, bytes | None] | None = None,
    nonce_key: bytes | None = None,
) -> list[Arrival | InvalidEvent]:
    """``arrivals`` for rules given as JSON (what crosses to a helper process)."""
    rules = _RULES.get(rules_json)
    if rules is None:
        if len(_RULES) >= 8:  # e.g. a test suite's many rule sets
            _RULES.clear()
        rules = _RULES[rules_json] = IdentityRules.model_validate_json(rules_json)
    return arrivals(rules, values, keys, nonce_key)
