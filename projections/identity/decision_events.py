"""The events that change the graph itself: merges the resolver makes, and a person's
confirmed merge, rejected merge and split.

Each is built here and nowhere else, deterministically: its id derives from what was
decided (and, for a person, by whom and when), and its time is the decision's, recorded
in the event. Published twice, a decision is one message id; replayed from the log, it
rebuilds the same graph and the same ``merged_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.envelope import Channel, Source
from events.touchpoints.identity import (
    CustomerMerged,
    CustomerMergedPayload,
    CustomerMergeRejected,
    CustomerMergeRejectedPayload,
    CustomerSplit,
    CustomerSplitPayload,
    Identifier,
    IdentifierType,
)
from projections.identity.records import TOUCHLOG_NAMESPACE, EventRef, Merge

RESOLVER_SYSTEM = "touchlog-identity"
"""Who merges customers that one event's identifiers join."""

DECISIONS = Source(system="touchlog-identity-cli", business_unit="group", channel=Channel.APP)
"""Where a person's identity decisions come from."""


@dataclass(frozen=True, slots=True)
class Decided:
    """Who decided, when (aware), and why."""

    by: str
    at: datetime
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"a decision's time must be timezone-aware, not {self.at}")

    def message_id(self, what: str, *names: str) -> str:
        return _message_id(what, self.by, self.at.isoformat(), *names)


def _message_id(*parts: str) -> str:
    return str(uuid.uuid5(TOUCHLOG_NAMESPACE, "/".join(parts)))


def _customer_merged(
    merge: Merge, message_id: str, at: datetime, source: Source, merged_by: str, **envelope: Any
) -> CustomerMerged:
    return CustomerMerged(
        message_id=message_id,
        occurred_at=at,
        source=source,
        subject={"customer_id": merge.survivor},
        payload=CustomerMergedPayload(
            surviving_customer_id=merge.survivor,
            merged_customer_ids=merge.merged,
            reason=merge.reason,
            merged_by=merged_by,
        ),
        **envelope,
    )


def resolver_merge(
    merge: Merge, cause: EventRef, business_unit: str, correlation_id: str | None
) -> CustomerMerged:
    """The ``customer.merged`` a resolution implies: id and time derived from its cause."""
    return _customer_merged(
        merge,
        _message_id(
            "merge", cause.source_system, cause.message_id, merge.survivor, ",".join(merge.merged)
        ),
        cause.occurred_at,
        Source(system=RESOLVER_SYSTEM, business_unit=business_unit, channel=Channel.APP),
        RESOLVER_SYSTEM,
        causation_id=cause.message_id,
        correlation_id=correlation_id,
    )


def confirmed_merge(survivor: str, merged: str, decided: Decided) -> CustomerMerged:
    """A person's confirmation that two customers are one: ``merged`` into ``survivor``."""
    merge = Merge(survivor, (merged,), decided.reason or "confirmed duplicate")
    message_id = decided.message_id("confirm", survivor, merged)
    return _customer_merged(merge, message_id, decided.at, DECISIONS, decided.by)


def rejected_merge(customer: str, other: str, decided: Decided) -> CustomerMergeRejected:
    """A person's decision that two customers suspected to be one are different people."""
    a, b = sorted((customer, other))
    return CustomerMergeRejected(
        message_id=decided.message_id("reject", a, b),
        occurred_at=decided.at,
        source=DECISIONS,
        subject={"customer_id": a},
        payload=CustomerMergeRejectedPayload(
            customer_id=a, other_customer_id=b, reason=decided.reason, rejected_by=decided.by
        ),
    )


def split(
    original: str,
    new: str,
    identifier_keys: Sequence[str],
    decided: Decided,
    reverses_merge: str | None = None,
) -> CustomerSplit:
    """A person's split: ``new`` takes these identifiers (keys, e.g. ``email:ann@x.com``)
    from ``original``. Raises ValueError for a key that names no identifier."""
    moved = tuple(payload_identifier(key) for key in identifier_keys)
    return CustomerSplit(
        message_id=decided.message_id("split", original, new, *identifier_keys),
        occurred_at=decided.at,
        source=DECISIONS,
        subject={"customer_id": original},
        payload=CustomerSplitPayload(
            original_customer_id=original,
            new_customer_id=new,
            identifiers_moved=moved,
            reason=decided.reason or "not the same person",
            split_by=decided.by,
            reverses_merge=reverses_merge,
        ),
    )


def payload_identifier(key: str) -> Identifier:
    """``email:ann@x.com`` / ``external_id:loyalty:L9`` as a split event carries it."""
    kind, colon, value = key.partition(":")
    if not colon or kind not in {t.value for t in IdentifierType}:
        raise ValueError(f"not an identifier key: {key!r} (e.g. email:ann@example.com)")
    if kind == IdentifierType.EXTERNAL_ID:
        namespace, colon, value = value.partition(":")
        if not colon:
            raise ValueError(f"an external id key is external_id:TYPE:ID, not {key!r}")
        return Identifier(type=IdentifierType(kind), value=value, namespace=namespace)
    return Identifier(type=IdentifierType(kind), value=value)
