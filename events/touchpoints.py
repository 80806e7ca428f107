"""The touchpoint types: one frozen model per ``type``, each with a typed payload.

Every payload field is tagged with its sensitivity tier. ``summary()`` gives the
one-line, human-readable description shown on a rep's timeline.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from events.envelope import Channel, Email, Envelope, Model, Name, Text
from events.sensitivity import essential, service

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class Touchpoint(Envelope):
    """A touchpoint event. ``default_channel`` is where such events usually come from."""

    default_channel: ClassVar[Channel]
    type: str
    payload: Model

    def summary(self) -> str:
        raise NotImplementedError


# --- web forms -------------------------------------------------------------------------


class WebFormSubmittedPayload(Model):
    form_id: Name = service(description="The form's identifier in the web CMS.")
    form_name: Name = service()
    page_url: Annotated[str, StringConstraints(max_length=2000)] | None = service(None)
    fields: dict[Name, Annotated[str, StringConstraints(max_length=2000)]] = essential(
        default_factory=dict, description="Answers given, by field name."
    )
    message: Text | None = essential(None, description="Free text the customer wrote.")


class WebFormSubmitted(Touchpoint):
    default_channel = Channel.WEB
    type: Literal["web_form.submitted"] = "web_form.submitted"
    payload: WebFormSubmittedPayload

    def summary(self) -> str:
        return f"Submitted web form '{self.payload.form_name}'"


# --- calls -----------------------------------------------------------------------------


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallLoggedPayload(Model):
    direction: CallDirection = service()
    dialled_number: Annotated[str, StringConstraints(max_length=32)] | None = service(
        None, description="Number dialled: a campaign line, a department, …"
    )
    duration_seconds: int = service(ge=0, le=86_400)
    reason: Name = service(description="Why the customer called or was called.")
    outcome: Name = service(description="What came of it.")
    agent_id: Name | None = service(None)
    resolved_first_contact: bool | None = service(None)


class CallLogged(Touchpoint):
    default_channel = Channel.PHONE
    type: Literal["call.logged"] = "call.logged"
    payload: CallLoggedPayload

    def summary(self) -> str:
        p = self.payload
        minutes, seconds = divmod(p.duration_seconds, 60)
        return f"{p.direction.value.capitalize()} call ({minutes}m{seconds:02d}s): {p.reason} → {p.outcome}"


# --- email -----------------------------------------------------------------------------


class EmailPayload(Model):
    mailbox: Email = service(description="Our mailbox that received or sent it.")
    subject_line: Annotated[str, StringConstraints(max_length=500)] = service()
    body_excerpt: Text | None = service(None)
    thread_id: Name | None = service(None)
    attachments: int = service(0, ge=0)


class EmailReceived(Touchpoint):
    default_channel = Channel.EMAIL
    type: Literal["email.received"] = "email.received"
    payload: EmailPayload

    def summary(self) -> str:
        return f"Email received: {self.payload.subject_line}"


class EmailSent(Touchpoint):
    default_channel = Channel.EMAIL
    type: Literal["email.sent"] = "email.sent"
    payload: EmailPayload

    def summary(self) -> str:
        return f"Email sent: {self.payload.subject_line}"


# --- complaints ------------------------------------------------------------------------


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplaintOpenedPayload(Model):
    case_id: Name = service()
    category: Name = service(description="e.g. 'delivery', 'billing', 'product quality'.")
    severity: Severity = service()
    description: Text = service()


class ComplaintOpened(Touchpoint):
    default_channel = Channel.PHONE
    type: Literal["complaint.opened"] = "complaint.opened"
    payload: ComplaintOpenedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Complaint {p.case_id} opened ({p.severity.value}): {p.category}"


class ComplaintResolvedPayload(Model):
    case_id: Name = service()
    resolution: Text = service()
    resolved_by: Name = service()
    compensation: Money | None = service(None)
    currency: Currency | None = service(None)


class ComplaintResolved(Touchpoint):
    default_channel = Channel.PHONE
    type: Literal["complaint.resolved"] = "complaint.resolved"
    payload: ComplaintResolvedPayload

    def summary(self) -> str:
        return f"Complaint {self.payload.case_id} resolved by {self.payload.resolved_by}"


# --- purchases -------------------------------------------------------------------------


class OrderLine(Model):
    sku: Name = service()
    name: Name | None = service(None)
    category: Name = service()
    quantity: int = service(ge=1, le=100_000)
    unit_price: Money = service()


class PaymentMethod(StrEnum):
    CARD = "card"
    CASH = "cash"
    INVOICE = "invoice"
    DIRECT_DEBIT = "direct_debit"
    VOUCHER = "voucher"
    WALLET = "wallet"


class PurchaseCompletedPayload(Model):
    order_id: Name = service()
    lines: tuple[OrderLine, ...] = service(min_length=1)
    currency: Currency = service(description="ISO 4217 code, e.g. EUR.")
    total: Money = service()
    payment_method: PaymentMethod = service()
    promotion_code: Name | None = service(None)
    store_id: Name | None = service(None, description="Store, or None for web/app orders.")

    @model_validator(mode="after")
    def _total_matches_lines(self) -> PurchaseCompletedPayload:
        lines_total = sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))
        if self.total > lines_total:
            raise ValueError(
                f"total {self.total} exceeds the sum of the lines ({lines_total})"
            )
        return self


class PurchaseCompleted(Touchpoint):
    default_channel = Channel.STORE
    type: Literal["purchase.completed"] = "purchase.completed"
    payload: PurchaseCompletedPayload

    def summary(self) -> str:
        p = self.payload
        items = sum(line.quantity for line in p.lines)
        return f"Purchased {items} item{'s' if items != 1 else ''} for {p.total} {p.currency} (order {p.order_id})"
