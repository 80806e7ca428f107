"""A marketing trigger's webhook body with the channel's consented contact details.

For a subscriber that asks for them (``contact: true``), a marketing trigger carries, beside
the offer and the evidence in words (``reason``), the customer's name and the one contact
detail of the trigger's channel — only if marketing is granted on that channel when the
webhook is sent (``projections.audiences.membership.channel_contact``). Service triggers
are sent as they are: what a rep needs. The trigger worker puts the same contact, sealed,
in the ``touchlog.triggers`` record (``consumers.triggers.contacts``, ``contact_of``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from projections.audiences.membership import channel_contact
from projections.audiences.traits import Traits
from projections.profile.facts import Fact
from projections.triggers.model import Kind, Trigger

CONTACT_KINDS = ("name", "title", "emails", "phones", "addresses", "consent")
"""The fact kinds a contact is read from (nothing else of the profile is loaded)."""


def contact_of(channel: str, facts: Iterable[Fact], at: datetime) -> dict[str, Any] | None:
    """The name and ``channel``'s one detail from a customer's facts (``CONTACT_KINDS``),
    if marketing is granted on ``channel`` at ``at`` and the detail is held; else None."""
    traits = Traits()
    for fact in facts:
        traits.apply(fact)
    return channel_contact(traits, channel, at)


def with_contact(trigger: Trigger, facts: Iterable[Fact], at: datetime) -> bytes:
    """The body: the trigger, and ``contact`` (null when not consented or not held).
    A ``contact`` the trigger carried from its topic (sealed) is replaced."""
    body = json.loads(trigger.encode())
    body.pop("contact", None)
    if trigger.kind is Kind.MARKETING and trigger.channel is not None:
        body["contact"] = contact_of(trigger.channel, facts, at)
    return json.dumps(body, separators=(",", ":")).encode()
