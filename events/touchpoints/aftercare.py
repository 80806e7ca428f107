"""After the sale: services carried out on a product, warranty registrations."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, model_validator

from events.envelope import Channel, Model, Name
from events.rules import ContractRule
from events.sensitivity import service
from events.touchpoints.base import (
    Currency,
    Money,
    Touchpoint,
    amount_needs_currency,
    require_currency,
)

NEXT_SERVICE_LATER = ContractRule(
    "next-service-after-this-one",
    "payload.next_due_on, when given, is after payload.completed_on.",
)


class ServiceCompletedPayload(Model):
    model_config = ConfigDict(json_schema_extra=amount_needs_currency("charge"))
    contract_rules = (NEXT_SERVICE_LATER,)

    job_id: Name = service()
    service_type: Name = service(description="e.g. 'annual boiler service', 'oven repair'.")
    product_sku: Name | None = service(None)
    serial_number: Name | None = service(None)
    technician_id: Name | None = service(None)
    completed_on: date = service()
    next_due_on: date | None = service(None, description="When the next service is due.")
    charge: Money | None = service(None, description="None when covered, e.g. by a warranty.")
    currency: Currency | None = service(None)

    @model_validator(mode="after")
    def _consistent(self) -> ServiceCompletedPayload:
        require_currency(self.charge, self.currency, "charge")
        if self.next_due_on is not None and self.next_due_on <= self.completed_on:
            raise NEXT_SERVICE_LATER.broken("next_due_on must be after completed_on")
        return self


class ServiceCompleted(Touchpoint):
    """A technician serviced or repaired the customer's product."""

    default_channel = Channel.STORE
    type: Literal["service.completed"] = "service.completed"
    payload: ServiceCompletedPayload

    def summary(self) -> str:
        p = self.payload
        due = f"; next due {p.next_due_on.isoformat()}" if p.next_due_on else ""
        return f"Service completed: {p.service_type}{due}"


class WarrantyRegisteredPayload(Model):
    warranty_id: Name = service()
    product_sku: Name = service()
    product_name: Name = service()
    serial_number: Name = service()
    purchase_date: date = service()
    place_of_purchase: Name = service(description="Store or web site, as the customer says.")
    store_id: Name | None = service(None, description="Our store, when bought from us.")
    warranty_months: int = service(ge=1, le=120)
    extended: bool = service(False, description="A paid extension beyond the standard term.")


class WarrantyRegistered(Touchpoint):
    """A product's warranty card was registered."""

    default_channel = Channel.WEB
    type: Literal["warranty.registered"] = "warranty.registered"
    payload: WarrantyRegisteredPayload

    def summary(self) -> str:
        p = self.payload
        return f"Warranty registered: {p.product_name}, {p.warranty_months} months"


TYPES: tuple[type[Touchpoint], ...] = (ServiceCompleted, WarrantyRegistered)
