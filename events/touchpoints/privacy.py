"""What touchlog does about personal data itself: a customer's erasure.

``customer.erased`` says that a customer's personal data was erased (``privacy.erasure``):
every data key of their subjects shredded, the read models purged or anonymised. It
carries no personal data: the customer id (touchlog's own), when, the receipt that lists
what was done where, and how many data subjects it reached. A view that keeps data per
customer drops theirs on it, on replay and rebuild too.
"""

from __future__ import annotations

from typing import Literal

from events.envelope import Channel, Model, Name, UtcDatetime
from events.sensitivity import essential, service
from events.touchpoints.base import Touchpoint


class CustomerErasedPayload(Model):
    customer_id: Name = essential(personal=False, description="The erased customer.")
    merged_customer_ids: tuple[Name, ...] = essential(
        (), personal=False, max_length=1000, description="Customers merged into it, erased too."
    )
    erased_at: UtcDatetime = service(description="When the keys were shredded.")
    receipt_id: Name = service(description="The erasure receipt listing every store.")
    subjects: int = service(ge=0, description="How many data subjects' keys were shredded.")
    keys_shredded: int = service(ge=0)
    erased_by: Name = service(description="Who erased (a manager's name or a command).")


class CustomerErased(Touchpoint):
    """A customer's personal data was erased (crypto-shredding; docs/PRIVACY.md)."""

    default_channel = Channel.APP
    type: Literal["customer.erased"] = "customer.erased"
    payload: CustomerErasedPayload

    def summary(self) -> str:
        return f"Personal data of customer {self.payload.customer_id} erased"


TYPES: tuple[type[Touchpoint], ...] = (CustomerErased,)
