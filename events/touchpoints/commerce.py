"""Money changing hands: purchases, returns, refunds."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import model_validator

from events.envelope import Channel, Model, Name, Text
from events.rules import ContractRule
from events.sensitivity import service
from events.touchpoints.base import Currency, Money, PaymentMethod, Touchpoint


class OrderLine(Model):
    sku: Name = service()
    name: Name | None = service(None)
    category: Name = service()
    quantity: int = service(ge=1, le=100_000)
    unit_price: Money = service()


TOTAL_WITHIN_LINES = ContractRule(
    "total-within-lines",
    "payload.total is at most the sum of quantity x unit_price over payload.lines "
    "(a discount may make it less, nothing makes it more).",
)


class PurchaseCompletedPayload(Model):
    contract_rules = (TOTAL_WITHIN_LINES,)

    order_id: Name = service()
    lines: tuple[OrderLine, ...] = service(min_length=1, max_length=1000)
    currency: Currency = service(description="ISO 4217 code, e.g. EUR.")
    total: Money = service(description="Paid; at most the lines' sum (discounts).")
    payment_method: PaymentMethod = service()
    promotion_code: Name | None = service(None)
    store_id: Name | None = service(None, description="Store, or None for web/app orders.")

    @model_validator(mode="after")
    def _total_matches_lines(self) -> PurchaseCompletedPayload:
        lines_total = sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))
        if self.total > lines_total:
            raise TOTAL_WITHIN_LINES.broken(
                f"total {self.total} exceeds the sum of the lines ({lines_total})"
            )
        return self


class PurchaseCompleted(Touchpoint):
    """An order was paid for, in a store or online."""

    default_channel = Channel.STORE
    type: Literal["purchase.completed"] = "purchase.completed"
    payload: PurchaseCompletedPayload

    def summary(self) -> str:
        p = self.payload
        items = sum(line.quantity for line in p.lines)
        plural = "s" if items != 1 else ""
        return f"Purchased {items} item{plural} for {p.total} {p.currency} (order {p.order_id})"


class ReturnReason(StrEnum):
    DAMAGED = "damaged"
    FAULTY = "faulty"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    DOES_NOT_FIT = "does_not_fit"
    CHANGED_MIND = "changed_mind"


class ReturnedLine(Model):
    sku: Name = service()
    quantity: int = service(ge=1, le=100_000)
    reason: ReturnReason = service()


class OrderReturnedPayload(Model):
    return_id: Name = service()
    order_id: Name = service()
    lines: tuple[ReturnedLine, ...] = service(min_length=1, max_length=1000)
    store_id: Name | None = service(None, description="Store it came back to; None by post.")
    comment: Text | None = service(None, personal=True)


class OrderReturned(Touchpoint):
    """Items of an order came back."""

    default_channel = Channel.STORE
    type: Literal["order.returned"] = "order.returned"
    payload: OrderReturnedPayload

    def summary(self) -> str:
        p = self.payload
        items = sum(line.quantity for line in p.lines)
        plural = "s" if items != 1 else ""
        return f"Returned {items} item{plural} from order {p.order_id}"


class RefundIssuedPayload(Model):
    refund_id: Name = service()
    amount: Money = service()
    currency: Currency = service()
    method: PaymentMethod = service(description="How the money goes back.")
    reason: Name = service(description="e.g. 'return', 'complaint', 'cancelled booking'.")
    order_id: Name | None = service(None)
    return_id: Name | None = service(None)
    case_id: Name | None = service(None, description="The complaint that led to it.")


class RefundIssued(Touchpoint):
    """Money paid back to the customer."""

    default_channel = Channel.STORE
    type: Literal["refund.issued"] = "refund.issued"
    payload: RefundIssuedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Refund of {p.amount} {p.currency} issued ({p.reason})"


TYPES: tuple[type[Touchpoint], ...] = (PurchaseCompleted, OrderReturned, RefundIssued)
