"""The timeline projection: a pure function from events to timeline rows.

One row per event per subject. Until identity resolution stamps a
``customer_id``, the subject key is the best identifier the event carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from events import Touchpoint
from events.resolved import Resolved
from events.touchpoints.identity import TYPES as IDENTITY_TYPES
from projections.view import project_batch


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    subject_key: str
    source_system: str
    message_id: str
    occurred_at: datetime
    type: str
    channel: str
    business_unit: str
    summary: str
    payload_json: str
    campaign_code: str | None

    def identity(self) -> tuple[str, str, str]:
        """The row's identity: applying the same event twice yields the same identity."""
        return (self.subject_key, self.source_system, self.message_id)


# The identity graph's own bookkeeping: shown in a customer's identity history, not in the
# timeline of touchpoints — a merge undone by a split leaves both timelines as they were.
NOT_IN_TIMELINE = frozenset(cls.type_name() for cls in IDENTITY_TYPES)


def project(event: Touchpoint, customer_id: str | None = None) -> list[TimelineEntry]:
    """Rows for one event: under its resolved customer, or else its best identifier."""
    if event.type in NOT_IN_TIMELINE:
        return []
    payload = event.payload
    return [
        TimelineEntry(
            subject_key=customer_id or event.subject.key(),
            source_system=event.source.system,
            message_id=event.message_id,
            occurred_at=event.occurred_at,
            type=event.type,
            channel=event.source.channel.value,
            business_unit=event.source.business_unit,
            summary=event.summary(),
            # warnings off: an erased field reads "[erased]" whatever its type
            payload_json=payload.model_dump_json(exclude_none=True, warnings=False),
            campaign_code=event.campaign.code if event.campaign else None,
        )
    ]


def project_all(events: Iterable[Touchpoint | Resolved]) -> list[TimelineEntry]:
    """Rows for a batch, each identity once (a batch may hold a re-published event).

    Resolved events (``touchlog.resolved``) go under their customer; raw touchpoints
    under their best identifier.
    """
    return project_batch(events, project)
