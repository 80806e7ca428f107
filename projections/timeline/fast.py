"""Timeline rows straight from ``touchlog.resolved`` records, without building the event.

A timeline row needs the envelope's few fields, the payload as stored JSON and the
event's one-line summary. The resolver, which validates every event, writes the summary
into the resolved record beside the event (sealed like the event's personal fields,
``events.resolved``), so the timeline can read a record with ``msgspec`` into the small
structs below — the payload kept as raw JSON — instead of validating the whole event
into pydantic models again: that validation was most of a rebuild's time (issue 13).

A record without a summary (written before the resolver wrote them) goes the long way:
decoded into the event, whose ``summary()`` gives it. Either way the row is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from events.codec import FieldError, InvalidEvent
from events.fast_decode import OpenedRecord
from events.resolved import RESOLVED
from privacy.sealing import lenient_resolved
from projections.timeline.projection import NOT_IN_TIMELINE, TimelineEntry, project


class _Source(msgspec.Struct, frozen=True):
    system: str
    business_unit: str
    channel: str


class _Campaign(msgspec.Struct, frozen=True):
    code: str | None = None


class _Event(msgspec.Struct, frozen=True):
    message_id: str
    type: str
    occurred_at: datetime
    source: _Source
    payload: msgspec.Raw
    campaign: _Campaign | None = None


class _Resolved(msgspec.Struct, frozen=True):
    customer_id: str
    event: _Event
    summary: str | None = None


_DECODER = msgspec.json.Decoder(_Resolved)


def entries(value: bytes) -> list[TimelineEntry]:
    """The timeline rows of one opened resolved record. Raises ``InvalidEvent``."""
    try:
        record = _DECODER.decode(value)
    except msgspec.DecodeError as exc:
        raise InvalidEvent([FieldError("(body)", f"not a resolved record: {exc}")]) from None
    if record.summary is None:  # written before summaries were: the long way
        resolved = RESOLVED.decode(value)
        return project(resolved.event, resolved.customer_id)
    event = record.event
    if event.type in NOT_IN_TIMELINE:
        return []
    return [
        TimelineEntry(
            subject_key=record.customer_id,
            source_system=event.source.system,
            message_id=event.message_id,
            occurred_at=event.occurred_at,
            type=event.type,
            channel=event.source.channel,
            business_unit=event.source.business_unit,
            summary=record.summary,
            payload_json=bytes(event.payload).decode(),
            campaign_code=event.campaign.code if event.campaign else None,
        )
    ]


def entries_of_each(
    opened: Sequence[OpenedRecord | InvalidEvent | None],
) -> list[list[TimelineEntry] | InvalidEvent]:
    """The rows of each opened record, or why it is not one. A record with erased fields
    is read the long way, leniently: its erased fields show ``[erased]``."""
    result: list[list[TimelineEntry] | InvalidEvent] = []
    for record in opened:
        if record is None:
            result.append(InvalidEvent([FieldError("(body)", "empty record")]))
        elif isinstance(record, InvalidEvent):
            result.append(record)
        else:
            try:
                if record.erased:
                    resolved = lenient_resolved(record.value)
                    result.append(project(resolved.event, resolved.customer_id))
                else:
                    result.append(entries(record.value))
            except InvalidEvent as exc:
                result.append(exc)
    return result
