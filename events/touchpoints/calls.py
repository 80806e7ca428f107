"""Phone calls, and the history of ``call.logged``.

v1 kept a single free-text ``notes``; v2 records why the call happened and what came
of it as separate fields, which reports and triggers can use. v1 events are still in
the log: they are read as v2 with ``reason``/``outcome`` set to ``NOT_RECORDED`` and
the notes kept.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints

from events.envelope import Channel, Model, Name, Text
from events.rules import NO_NUL
from events.sensitivity import service
from events.touchpoints.base import Touchpoint
from events.upcasting import Document, upcaster

NOT_RECORDED = "not recorded"
"""``reason`` and ``outcome`` of a call logged as v1, when only notes were kept."""

DialledNumber = Annotated[str, StringConstraints(max_length=32, pattern=NO_NUL)]


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallLoggedPayload(Model):
    direction: CallDirection = service()
    dialled_number: DialledNumber | None = service(
        None, description="Number dialled: a campaign line, a department, the customer's."
    )
    duration_seconds: int = service(ge=0, le=86_400)
    reason: Name = service(description="Why the customer called or was called.")
    outcome: Name = service(description="What came of it.")
    agent_id: Name | None = service(None)
    resolved_first_contact: bool | None = service(
        None, description="Settled on this call, with no follow-up needed."
    )
    notes: Text | None = service(None, personal=True, description="The agent's free-text notes.")


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s"


class CallLogged(Touchpoint):
    """A phone call with a customer, logged by the call-centre system."""

    current_version = 2
    default_channel = Channel.PHONE
    type: Literal["call.logged"] = "call.logged"
    payload: CallLoggedPayload

    def summary(self) -> str:
        p = self.payload
        call = f"{p.direction.value.capitalize()} call ({_duration(p.duration_seconds)})"
        if p.reason == NOT_RECORDED and p.notes:
            return f"{call}: {_excerpt(p.notes)}"
        return f"{call}: {p.reason} → {p.outcome}"


def _excerpt(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- v1, superseded: kept so its contract can be regenerated and checked -----------------


class CallLoggedV1Payload(Model):
    direction: CallDirection = service()
    dialled_number: DialledNumber | None = service(None)
    duration_seconds: int = service(ge=0, le=86_400)
    notes: Text = service(personal=True, description="Everything the agent wrote about the call.")
    agent_id: Name | None = service(None)


class CallLoggedV1(Touchpoint):
    """call.logged as first published: free-text notes only. Read as v2."""

    current_version = 1
    default_channel = Channel.PHONE
    type: Literal["call.logged"] = "call.logged"
    payload: CallLoggedV1Payload

    def summary(self) -> str:
        p = self.payload
        direction = p.direction.value.capitalize()
        return f"{direction} call ({_duration(p.duration_seconds)}): {_excerpt(p.notes)}"


@upcaster("call.logged", from_version=1)
def notes_to_reason_and_outcome(event: Document) -> Document:
    """v1 → v2: no reason or outcome was recorded; the notes still say what happened."""
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return event  # let validation say what is wrong with it
    v2 = {key: value for key, value in payload.items() if key != "notes"}
    v2["reason"] = NOT_RECORDED
    v2["outcome"] = NOT_RECORDED
    if payload.get("notes") is not None:
        v2["notes"] = payload["notes"]
    return {**event, "payload": v2}


TYPES: tuple[type[Touchpoint], ...] = (CallLogged,)
SUPERSEDED: tuple[type[Touchpoint], ...] = (CallLoggedV1,)
