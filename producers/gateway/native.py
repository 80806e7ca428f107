"""Native events: the envelope of DESIGN.md, completed from the write key.

``source`` may be left out (the key's system, business unit and default channel are
used) or given with another channel; it may not name another system or business unit.
``received_at`` is the gateway's; ``occurred_at`` is skew-corrected when ``sent_at``
is given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events import FieldError, InvalidEvent, from_mapping
from producers.gateway.ingest import Submission
from producers.gateway.sources import Source
from producers.gateway.timing import corrected


def native_submission(document: Any, source: Source, received_at: datetime) -> Submission:
    """The event ``document`` describes, ready to ingest. Raises ``InvalidEvent``."""
    if not isinstance(document, dict):  # parsed JSON: a dict (faster to check than Mapping)
        raise InvalidEvent([FieldError("(event)", "expected a JSON object")])
    errors: list[FieldError] = []
    data = dict(document)
    data["source"] = _source(document.get("source"), source, errors)
    data["received_at"] = received_at
    try:
        event = from_mapping(data)
    except InvalidEvent as exc:
        raise InvalidEvent(errors + exc.errors) from None
    if errors:
        raise InvalidEvent(errors)
    occurred_at = corrected(event.occurred_at, event.sent_at, received_at, "occurred_at")
    if isinstance(occurred_at, FieldError):
        raise InvalidEvent([occurred_at])
    if occurred_at != event.occurred_at:
        event = event.model_copy(update={"occurred_at": occurred_at})
    return Submission(event, deduplicate=document.get("message_id") is not None)


def _source(given: Any, source: Source, errors: list[FieldError]) -> Any:
    bound = {
        "system": source.system,
        "business_unit": source.business_unit,
        "channel": source.channel.value,
    }
    if given is None:
        return bound
    if not isinstance(given, dict):
        return given  # validation names it
    for name in ("system", "business_unit"):
        value = given.get(name)
        if value is not None and value != bound[name]:
            errors.append(
                FieldError(
                    f"source.{name}",
                    f"this write key sends for {name.replace('_', ' ')} '{bound[name]}' only",
                    repr(value)[:80],
                )
            )
    return {**bound, **given}
