"""A complaint's life: opened, updated, escalated, resolved; tied together by ``case_id``."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, model_validator

from events.envelope import Channel, Model, Name, Text, UtcDatetime
from events.sensitivity import restricted, service
from events.touchpoints.base import (
    Currency,
    Money,
    Touchpoint,
    amount_needs_currency,
    require_currency,
)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplaintOpenedPayload(Model):
    case_id: Name = service()
    category: Name = service(description="e.g. 'delivery', 'billing', 'product quality'.")
    severity: Severity = service()
    description: Text = service(personal=True)
    order_id: Name | None = service(None)
    product_sku: Name | None = service(None)
    injury_reported: bool = restricted(
        False, description="The customer reports harm to their health."
    )


class ComplaintOpened(Touchpoint):
    """A complaint was logged and a case opened."""

    default_channel = Channel.PHONE
    type: Literal["complaint.opened"] = "complaint.opened"
    payload: ComplaintOpenedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Complaint {p.case_id} opened ({p.severity.value}): {p.category}"


class ComplaintStatus(StrEnum):
    INVESTIGATING = "investigating"
    AWAITING_CUSTOMER = "awaiting_customer"
    AWAITING_THIRD_PARTY = "awaiting_third_party"
    ON_HOLD = "on_hold"


class ComplaintUpdatedPayload(Model):
    case_id: Name = service()
    status: ComplaintStatus = service()
    note: Text = service(personal=True)
    updated_by: Name = service()


class ComplaintUpdated(Touchpoint):
    """Progress on an open complaint."""

    default_channel = Channel.PHONE
    type: Literal["complaint.updated"] = "complaint.updated"
    payload: ComplaintUpdatedPayload

    def summary(self) -> str:
        status = self.payload.status.value.replace("_", " ")
        return f"Complaint {self.payload.case_id} updated: {status}"


class EscalationLevel(StrEnum):
    TEAM_LEADER = "team_leader"
    MANAGER = "manager"
    COMPLAINTS_DEPARTMENT = "complaints_department"
    EXECUTIVE = "executive"
    OMBUDSMAN = "ombudsman"


class ComplaintEscalatedPayload(Model):
    case_id: Name = service()
    to_level: EscalationLevel = service()
    reason: Text = service()
    escalated_by: Name = service()
    respond_by: UtcDatetime | None = service(None, description="Deadline for a response.")


class ComplaintEscalated(Touchpoint):
    """An open complaint was taken to a higher level."""

    default_channel = Channel.PHONE
    type: Literal["complaint.escalated"] = "complaint.escalated"
    payload: ComplaintEscalatedPayload

    def summary(self) -> str:
        level = self.payload.to_level.value.replace("_", " ")
        return f"Complaint {self.payload.case_id} escalated to {level}"


class ComplaintResolvedPayload(Model):
    model_config = ConfigDict(json_schema_extra=amount_needs_currency("compensation"))

    case_id: Name = service()
    resolution: Text = service(personal=True)
    resolved_by: Name = service()
    compensation: Money | None = service(None)
    currency: Currency | None = service(None, description="Currency of the compensation.")
    customer_satisfied: bool | None = service(None)

    @model_validator(mode="after")
    def _compensation_has_currency(self) -> ComplaintResolvedPayload:
        require_currency(self.compensation, self.currency, "compensation")
        return self


class ComplaintResolved(Touchpoint):
    """A complaint's case was closed."""

    default_channel = Channel.PHONE
    type: Literal["complaint.resolved"] = "complaint.resolved"
    payload: ComplaintResolvedPayload

    def summary(self) -> str:
        return f"Complaint {self.payload.case_id} resolved by {self.payload.resolved_by}"


TYPES: tuple[type[Touchpoint], ...] = (
    ComplaintOpened,
    ComplaintUpdated,
    ComplaintEscalated,
    ComplaintResolved,
)
