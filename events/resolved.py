"""``touchlog.resolved``: each touchpoint stamped with the customer identity resolution gave it.

The original event is carried unchanged — its subject still says what the
channel knew — beside the resolved ``customer_id`` and the event's one-line ``summary``
(sealed like the event's personal fields, since it quotes them): the resolver, which
validates every event, writes it so that the timeline can read a record without building
the event again (``projections/timeline/fast.py``). The topic is derived from
``touchlog.touchpoints`` and can be regenerated; it is keyed by ``customer_id``.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter

from events.catalogue import AnyTouchpoint
from events.codec import Codec, encode
from events.envelope import Model, Name
from events.touchpoints import Touchpoint


class Resolved(Model):
    customer_id: Name
    event: AnyTouchpoint
    summary: str | None = None
    """``event.summary()``, as the resolver wrote it (absent from older records)."""


RESOLVED: Codec[Resolved] = Codec(TypeAdapter(Resolved), TypeAdapter(list[Resolved]))


def encode_resolved(customer_id: str, event: Touchpoint) -> bytes:
    """Deterministic bytes: the same resolution of the same event encodes identically
    (in clear: for events the resolver itself makes, and tests)."""
    return resolved_value(customer_id, encode(event), event.summary())


def resolved_value(customer_id: str, event_json: bytes, summary: str | None = None) -> bytes:
    """``event_json`` (one JSON object: the event as encoded, or the record value it was
    decoded from, forwarded as read) stamped with its customer, and its summary (clear, or
    sealed: ``privacy.sealing``)."""
    stamped = b'{"customer_id":' + json.dumps(customer_id).encode() + b',"event":' + event_json
    if summary is None:
        return stamped + b"}"
    return stamped + b',"summary":' + json.dumps(summary).encode() + b"}"
