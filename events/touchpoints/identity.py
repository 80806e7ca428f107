"""The identity graph's own history: links, unlinks, merges and splits.

Emitted by the identity resolver or by a person correcting it. Events are never
rewritten to a new customer id: these events say how identifiers map to customers,
so a wrong merge is undone by a split and every view can be rebuilt.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import model_validator

from events.envelope import Channel, MessageId, Model, Name, Text
from events.rules import ContractRule
from events.sensitivity import essential, service
from events.touchpoints.base import Touchpoint


class IdentifierType(StrEnum):
    CUSTOMER_ID = "customer_id"
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL_ID = "external_id"
    ANONYMOUS_ID = "anonymous_id"


class Identifier(Model):
    type: IdentifierType = essential()
    value: Name = essential(description="Normalised: lower-case email, E.164 phone.")
    namespace: Name | None = essential(
        None, description="For external ids, their kind, e.g. 'retail_customer_no'."
    )

    def __str__(self) -> str:
        kind = f"{self.type.value}:{self.namespace}" if self.namespace else self.type.value
        return f"{kind} {self.value}"


class MatchConfidence(StrEnum):
    EXACT = "exact"
    PROBABLE = "probable"
    MANUAL = "manual"


class IdentityLinkedPayload(Model):
    customer_id: Name = essential(personal=False)
    identifier: Identifier = essential()
    rule: Name = service(description="The rule that matched, e.g. 'verified email'.")
    confidence: MatchConfidence = service()
    linked_by: Name | None = service(None, description="Who linked it by hand, if anyone.")


class IdentityLinked(Touchpoint):
    """An identifier now leads to a customer."""

    default_channel = Channel.APP
    type: Literal["identity.linked"] = "identity.linked"
    payload: IdentityLinkedPayload

    def summary(self) -> str:
        return f"Linked {self.payload.identifier} to customer {self.payload.customer_id}"


class IdentityUnlinkedPayload(Model):
    customer_id: Name = essential(personal=False)
    identifier: Identifier = essential()
    reason: Text = service()
    unlinked_by: Name = service()


class IdentityUnlinked(Touchpoint):
    """An identifier no longer leads to a customer: it was linked by mistake."""

    default_channel = Channel.APP
    type: Literal["identity.unlinked"] = "identity.unlinked"
    payload: IdentityUnlinkedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Unlinked {p.identifier} from customer {p.customer_id}"


SURVIVOR_NOT_MERGED = ContractRule(
    "survivor-not-merged",
    "payload.surviving_customer_id is not one of payload.merged_customer_ids.",
)
SPLIT_TO_A_NEW_CUSTOMER = ContractRule(
    "split-to-a-new-customer", "payload.new_customer_id differs from payload.original_customer_id."
)
TWO_CUSTOMERS = ContractRule(
    "two-customers", "payload.other_customer_id differs from payload.customer_id."
)


class CustomerMergedPayload(Model):
    contract_rules = (SURVIVOR_NOT_MERGED,)

    surviving_customer_id: Name = essential(personal=False)
    merged_customer_ids: tuple[Name, ...] = essential(personal=False, min_length=1, max_length=100)
    reason: Text = service()
    merged_by: Name = service()

    @model_validator(mode="after")
    def _distinct(self) -> CustomerMergedPayload:
        if self.surviving_customer_id in self.merged_customer_ids:
            raise SURVIVOR_NOT_MERGED.broken("the surviving customer cannot also be merged away")
        return self


class CustomerMerged(Touchpoint):
    """Records found to be the same person became one customer."""

    default_channel = Channel.APP
    type: Literal["customer.merged"] = "customer.merged"
    payload: CustomerMergedPayload

    def summary(self) -> str:
        p = self.payload
        merged = ", ".join(p.merged_customer_ids)
        return f"Merged {merged} into customer {p.surviving_customer_id}"


class CustomerSplitPayload(Model):
    contract_rules = (SPLIT_TO_A_NEW_CUSTOMER,)

    original_customer_id: Name = essential(personal=False)
    new_customer_id: Name = essential(personal=False)
    identifiers_moved: tuple[Identifier, ...] = essential(min_length=1, max_length=100)
    reason: Text = service()
    split_by: Name = service()
    reverses_merge: MessageId | None = service(
        None, description="message_id of the customer.merged this undoes."
    )

    @model_validator(mode="after")
    def _distinct(self) -> CustomerSplitPayload:
        if self.original_customer_id == self.new_customer_id:
            raise SPLIT_TO_A_NEW_CUSTOMER.broken("a split needs a new customer id")
        return self


class CustomerSplit(Touchpoint):
    """One customer record turned out to be two people; some identifiers move."""

    default_channel = Channel.APP
    type: Literal["customer.split"] = "customer.split"
    payload: CustomerSplitPayload

    def summary(self) -> str:
        p = self.payload
        return f"Split customer {p.new_customer_id} from {p.original_customer_id}"


class CustomerMergeRejectedPayload(Model):
    contract_rules = (TWO_CUSTOMERS,)

    customer_id: Name = essential(personal=False)
    other_customer_id: Name = essential(personal=False)
    reason: Text | None = service(None)
    rejected_by: Name = service()

    @model_validator(mode="after")
    def _distinct(self) -> CustomerMergeRejectedPayload:
        if self.customer_id == self.other_customer_id:
            raise TWO_CUSTOMERS.broken("a rejected merge names two different customers")
        return self


class CustomerMergeRejected(Touchpoint):
    """A person decided that two customers suspected to be one are different people."""

    default_channel = Channel.APP
    type: Literal["customer.merge_rejected"] = "customer.merge_rejected"
    payload: CustomerMergeRejectedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Customers {p.customer_id} and {p.other_customer_id} are different people"


Decision = CustomerMerged | CustomerSplit | CustomerMergeRejected
"""A decision about the graph itself, applied by the resolver rather than resolved."""

TYPES: tuple[type[Touchpoint], ...] = (
    IdentityLinked,
    IdentityUnlinked,
    CustomerMerged,
    CustomerSplit,
    CustomerMergeRejected,
)
