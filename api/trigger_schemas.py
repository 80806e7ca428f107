"""What the read side answers about triggers: the bodies of ``/triggers`` routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.parameters import STORABLE
from projections.triggers.lifecycle import Status
from projections.triggers.model import Audience, Kind


class TriggerItem(BaseModel):
    trigger_id: str
    customer_id: str
    rule: str
    rule_type: str
    kind: Kind
    audience: Audience
    channel: str | None
    reason: str
    """Why it was raised. Built from service-tier facts: an agent gets what the trigger is
    for instead unless it reveals the service tier (``reason_withheld``)."""
    reason_withheld: bool = False
    evidence: list[str]
    """message_id of each event that justifies it."""
    offer: str | None
    created_at: datetime
    expires_at: datetime
    status: Status
    status_changed_at: datetime | None
    suppressed: str | None
    """Why it was not sent (managers only see suppressed triggers)."""
    suppressed_reason: str | None


class TriggerPage(BaseModel):
    triggers: list[TriggerItem]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (older) page; null on the last page."""
    audit_id: int | None = None
    """This read in the access audit."""


class ActionItem(BaseModel):
    action: str
    actor: str
    role: str
    note: str | None
    at: datetime


class TriggerDetail(TriggerItem):
    actions: list[ActionItem]
    """Who acknowledged or closed it, oldest first."""
    audit_id: int | None = None
    """This read in the access audit."""


class ActionRequest(BaseModel):
    note: str | None = Field(None, max_length=2000, pattern=STORABLE)


class AttemptItem(BaseModel):
    attempt: int
    at: datetime
    http_status: int | None
    error: str | None
    duration_ms: float


class DeliveryItem(BaseModel):
    subscriber: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    enqueued_at: datetime
    log: list[AttemptItem]


class DeliveryLog(BaseModel):
    trigger_id: str
    deliveries: list[DeliveryItem]
