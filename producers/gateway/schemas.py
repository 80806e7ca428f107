"""The gateway's documents as its OpenAPI spec describes them: request bodies and answers.

Request bodies are read by the routes themselves (size first, then JSON, then each event),
so these models only document them; answers are built from the response models.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.contracts import envelope_schema
from events.touchpoints.tracked import Properties
from producers.gateway.problems import FieldProblem

# --- answers -------------------------------------------------------------------------

EventStatus = Literal["accepted", "duplicate", "rejected", "unavailable", "overloaded"]


class EventAccepted(BaseModel):
    """The event is in the log: acknowledged by the broker now, or before (duplicate)."""

    message_id: str
    status: Literal["accepted", "duplicate"]
    ignored: list[str] = Field(
        default_factory=list,
        description="Fields of the message that no field of the touchpoint holds.",
    )


class SegmentAccepted(EventAccepted):
    success: Literal[True] = True


class EventResult(BaseModel):
    """One event of a batch, by its position in the batch."""

    index: int
    message_id: str | None = None
    status: EventStatus
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Why it was rejected, by JSON path within the event."
    )
    ignored: list[str] = Field(default_factory=list)


class BatchResult(BaseModel):
    """Per-event outcome. A rejected event never holds back the others; ``unavailable``
    and ``overloaded`` ones (answered 503 / 429) are to be sent again."""

    success: bool = Field(description="Every event is in the log (accepted or duplicate).")
    accepted: int
    duplicate: int
    rejected: int
    unavailable: int = Field(description="Events to send again (503 or 429).")
    results: list[EventResult]
    message: str | None = Field(None, description="Why some events are to be sent again.")


class Health(BaseModel):
    status: Literal["ok"]
    pending: int = Field(description="Events sent and not yet acknowledged by the broker.")


# --- request bodies (documentation only) -----------------------------------------------


def native_event_schema() -> dict[str, Any]:
    """The envelope contract, with what the gateway fills in no longer required."""
    schema = copy.deepcopy(envelope_schema())
    schema.pop("$schema", None)
    schema["required"] = [r for r in schema["required"] if r not in ("source", "received_at")]
    schema["title"] = "Native event"
    schema["description"] = (
        "A touchpoint in touchlog's envelope (schemas/envelope.json; the payload of each "
        "type in schemas/<type>/). source defaults to the write key's; received_at is set."
    )
    return schema


# What the gateway checks of a Segment message, stated so that a generated client knows it.
# Strings touchlog stores may hold no NUL (U+0000). (A blank id counts as absent: said in
# words, a regular expression for it makes schema-driven generators crawl.)
_NO_NUL = r"^[^\u0000]*$"
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=_NO_NUL),
    Field(description="An id; a blank one counts as absent."),
]
"""A Segment id as touchlog records it (an external id, a customer or anonymous id)."""
MessageIdText = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NO_NUL)]
EventName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_NUL)]
Moment = Annotated[
    datetime,
    Field(
        description="RFC 3339 with a UTC offset. Corrected for the device's clock with "
        "sentAt; more than 1 hour after the gateway received it is refused."
    ),
]
_PROPERTIES = (
    "Nested at most 3 containers deep; keys of 1 to 100 characters; at most 500 "
    "properties; strings of at most 10,000 characters, without NUL (U+0000)."
)
MESSAGE_BYTES = 32 * 1024
BATCH_BYTES = 500 * 1024
_WHO: dict[str, Any] = {
    "anyOf": [
        {"required": ["userId"], "properties": {"userId": {"type": ["string", "integer"]}}},
        {
            "required": ["anonymousId"],
            "properties": {"anonymousId": {"type": ["string", "integer"]}},
        },
    ],
    "x-max-bytes": MESSAGE_BYTES,
}


class ExternalIdRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Identifier | int
    id: Identifier | int


class Context(BaseModel):
    """Read: ``traits`` (identify: under the message's own traits, which win key by key;
    other calls: an email or phone names the subject), ``externalIds``, ``campaign.name``.
    The rest is kept by no touchpoint."""

    model_config = ConfigDict(extra="allow")

    traits: Properties | None = None
    externalIds: list[ExternalIdRef] | None = None


class _Message(BaseModel):
    """A Segment / RudderStack message: at most 32 KB as compact JSON; ``userId`` or
    ``anonymousId`` is required. Fields no touchpoint holds are listed back as ``ignored``."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_WHO)

    messageId: MessageIdText | int | None = Field(
        None, description="Deduplicates retries per source for 7 days; generated if absent."
    )
    userId: Identifier | int | None = None
    anonymousId: Identifier | int | None = None
    timestamp: Moment | None = None
    sentAt: datetime | None = None
    context: Context | None = None
    integrations: dict[str, Any] | None = None
    channel: str | None = Field(None, description="web, mobile, …; else the write key's.")


class Track(_Message):
    type: Literal["track"] = "track"
    event: EventName = Field(
        description="Not blank. Mapped names become their touchpoint type (Order Completed → "
        "purchase.completed, Product Viewed → product.viewed, and the gateway's mapping file), "
        "their properties checked as that type's payload; others are kept as event.tracked."
    )
    properties: Properties | None = Field(None, description=_PROPERTIES)


class Identify(_Message):
    type: Literal["identify"] = "identify"
    traits: Properties | None = Field(
        None,
        description="Profile traits (firstName, lastName, name, email, phone, address, "
        "birthday); they win over context.traits key by key. " + _PROPERTIES,
    )


class Page(_Message):
    type: Literal["page"] = "page"
    name: Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)] | None = None
    properties: Properties | None = Field(None, description=_PROPERTIES)


class Screen(_Message):
    type: Literal["screen"] = "screen"
    name: Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)] | None = None
    properties: Properties | None = Field(None, description=_PROPERTIES)


class Group(_Message):
    type: Literal["group"] = "group"
    groupId: Identifier | int
    traits: Properties | None = Field(None, description=_PROPERTIES)


class Alias(_Message):
    """``previousId`` (an anonymous id) and ``userId`` are one person."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"x-max-bytes": MESSAGE_BYTES})

    type: Literal["alias"] = "alias"
    previousId: Identifier | int
    userId: Identifier | int


AnyMessage = Annotated[
    Track | Identify | Page | Screen | Group | Alias, Field(discriminator="type")
]


class SegmentBatch(BaseModel):
    """At most 500 KB (after gzip) and 1,000 messages; each message is accepted or
    rejected on its own."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"x-max-bytes": BATCH_BYTES})

    batch: list[AnyMessage] = Field(min_length=1, max_length=1000)
    context: Context | None = Field(None, description="Merged into every message's.")
    sentAt: datetime | None = None


SEGMENT_MESSAGES: dict[str, type[BaseModel]] = {
    "track": Track,
    "identify": Identify,
    "page": Page,
    "screen": Screen,
    "group": Group,
    "alias": Alias,
}
