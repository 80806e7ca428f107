"""What a channel tracked under a name touchlog has no type for, kept rather than dropped.

The HTTP gateway's Segment-compatible routes map known event names to typed touchpoints
(``Order Completed`` → ``purchase.completed``); any other name, and page, screen and
group calls, arrive as ``event.tracked``: the name and the properties as sent. A later
mapping can give such events a type; the log keeps what was said.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, WithJsonSchema

from events.envelope import Channel, Model, Name
from events.rules import NO_NUL, UNICODE_TEXT
from events.sensitivity import restricted, service
from events.touchpoints.base import Key, Touchpoint

MAX_DEPTH = 3
MAX_TEXT = 10_000
_SCALARS: list[dict[str, Any]] = [
    {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_NUL},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "null"},
]
_KEYS = {"minLength": 1, "maxLength": 100, "pattern": NO_NUL}


def _value_schema(levels: int) -> dict[str, Any]:
    if levels == 0:
        return {"anyOf": _SCALARS}
    inner = _value_schema(levels - 1)
    containers = [
        {"type": "array", "items": inner},
        {"type": "object", "additionalProperties": inner, "propertyNames": _KEYS},
    ]
    return {"anyOf": [*_SCALARS, *containers]}


def _storable(text: str, path: str) -> None:
    """What the models' string patterns check, for values they do not type."""
    if "\x00" in text:
        raise ValueError(f"{path}: contains a NUL character (\\u0000), which cannot be stored")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise UNICODE_TEXT.broken(f"{path}: not Unicode text (a lone surrogate)") from None


def _json_value(value: Any, path: str, depth: int) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: not a finite number")
        return
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"{path}: longer than {MAX_TEXT} characters")
        _storable(value, path)
        return
    if not isinstance(value, list | dict):
        raise ValueError(f"{path}: not a JSON value")  # noqa: TRY004  # pydantic reports ValueError
    if depth >= MAX_DEPTH:
        raise ValueError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _json_value(item, f"{path}.{index}", depth + 1)
        return
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 100:
            raise ValueError(f"{path}: keys are 1 to 100 characters")
        _storable(key, f"{path} (a key)")
        _json_value(item, f"{path}.{key}", depth + 1)


def _json_properties(properties: dict[str, Any]) -> dict[str, Any]:
    for name, value in properties.items():
        _json_value(value, name, 0)
    return properties


# JSON values nested at most three containers deep: what trackers send
# (``products: [{sku, tags: [...]}]``), with a contract that is a plain JSON Schema.
# Checked by one validator rather than a union of types, whose errors would name
# every member of the union.
Properties = Annotated[
    dict[Key, Any],
    AfterValidator(_json_properties),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": _value_schema(MAX_DEPTH),
            "propertyNames": _KEYS,
            "maxProperties": 500,
        }
    ),
]


class TrackedCall(StrEnum):
    """The Segment call it came from."""

    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    IDENTIFY = "identify"


class EventTrackedPayload(Model):
    name: Name = service(
        description="The event's name as the channel sent it, e.g. 'Video Played'."
    )
    call: TrackedCall = service(TrackedCall.TRACK)
    properties: Properties = restricted(
        default_factory=dict,
        max_length=500,
        # Restricted: touchlog does not interpret them, so they may hold anything.
        description="The properties (or traits) as sent, uninterpreted; nested at most 3 deep.",
    )


class EventTracked(Touchpoint):
    """A channel tracked an event touchlog has no type for; name and properties kept."""

    default_channel = Channel.WEB
    type: Literal["event.tracked"] = "event.tracked"
    payload: EventTrackedPayload

    def summary(self) -> str:
        call = self.payload.call
        prefix = "Tracked" if call is TrackedCall.TRACK else f"Tracked {call.value}"
        return f"{prefix} '{self.payload.name}'"


TYPES: tuple[type[Touchpoint], ...] = (EventTracked,)
