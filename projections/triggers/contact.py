"""A marketing trigger's webhook body with the channel's consented contact details.

For a subscriber that asks for them (``contact: true``), a marketing trigger carries, beside
the offer and the evidence in words (``reason``), the customer's name and the one contact
detail of the trigger's channel — only if marketing is granted on that channel when the
webhook is sent (``projections.audiences.membership.channel_contact``). Service triggers
are sent as they are: what a rep needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from projections.audiences.membership import channel_contact
from projections.audiences.traits import Traits
from projections.profile.facts import Fact
from projections.triggers.model import Kind, Trigger

CONTACT_KINDS = ("name", "title", "emails", "phones", "addresses", "consent")
"""The fact kinds a contact is read from (nothing else of the profile is loaded)."""


def with_contact(trigger: Trigger, facts: Iterable[Fact], at: datetime) -> bytes:
    """The body: the trigger, and ``contact`` (null when not consented or not held)."""
    body = json.loads(trigger.encode())
    if trigger.kind is Kind.MARKETING and trigger.channel is not None:
        traits = Traits()
        for fact in facts:
            traits.apply(fact)
        body["contact"] = channel_contact(traits, trigger.channel, at)
    return json.dumps(body, separators=(",", ":")).encode()
