"""The gateway's documents as its OpenAPI spec describes them: request bodies and answers.

Request bodies are read by the routes themselves (size first, then JSON, then each event),
so these models only document them; answers are built from the response models.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from events.contracts import envelope_schema
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


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    messageId: str | None = Field(None, max_length=100)
    userId: str | int | None = None
    anonymousId: str | int | None = None
    timestamp: datetime | None = Field(None, description="ISO 8601 with an offset.")
    sentAt: datetime | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


class Track(_Message):
    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] | None = None


class Identify(_Message):
    type: Literal["identify"] = "identify"
    traits: dict[str, Any] | None = None


class Page(_Message):
    type: Literal["page"] = "page"
    name: str | None = None
    properties: dict[str, Any] | None = None


class Screen(_Message):
    type: Literal["screen"] = "screen"
    name: str | None = None
    properties: dict[str, Any] | None = None


class Group(_Message):
    type: Literal["group"] = "group"
    groupId: str | int
    traits: dict[str, Any] | None = None


class Alias(_Message):
    type: Literal["alias"] = "alias"
    previousId: str | int
    userId: str | int


AnyMessage = Annotated[
    Track | Identify | Page | Screen | Group | Alias, Field(discriminator="type")
]


class SegmentBatch(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[AnyMessage] = Field(min_length=1, max_length=1000)
    context: dict[str, Any] | None = Field(None, description="Merged into every message's.")
    sentAt: datetime | None = None


SEGMENT_MESSAGES: dict[str, type[BaseModel]] = {
    "track": Track,
    "identify": Identify,
    "page": Page,
    "screen": Screen,
    "group": Group,
    "alias": Alias,
}
