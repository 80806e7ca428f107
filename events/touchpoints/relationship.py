"""Who owns a customer's relationship (seed 004), and that rep's private notes.

A customer may have an owning rep: an account manager, a key-account salesperson.
``relationship.assigned`` names them (by the name their API token carries), or nobody
(no ``owner``);
the newest assignment holds, so a rebuild from the log knows the owner as it was then.
``relationship.noted`` is a private note about the account: restricted tier, shown to the
owner (with a reveal and a reason) and to managers, never to another agent.
"""

from __future__ import annotations

from typing import Literal

from events.envelope import Channel, Model, Name, Text
from events.sensitivity import essential, restricted
from events.touchpoints.base import Touchpoint


class RelationshipAssignedPayload(Model):
    owner: Name | None = essential(
        None,
        personal=False,
        description="The owning rep, as their API token names them; absent: nobody now.",
    )
    assigned_by: Name = essential(personal=False, description="Who assigned it.")


class RelationshipAssigned(Touchpoint):
    """A rep now owns the customer's relationship (or nobody does)."""

    default_channel = Channel.APP
    type: Literal["relationship.assigned"] = "relationship.assigned"
    payload: RelationshipAssignedPayload

    def summary(self) -> str:
        owner = self.payload.owner
        return f"Relationship owned by {owner}" if owner else "Relationship owner removed"


class RelationshipNotedPayload(Model):
    author: Name = essential(personal=False, description="The rep who wrote it.")
    note: Text = restricted(description="Private to the owner and managers.")


class RelationshipNoted(Touchpoint):
    """The owning rep's private note about the account."""

    default_channel = Channel.APP
    type: Literal["relationship.noted"] = "relationship.noted"
    payload: RelationshipNotedPayload

    def summary(self) -> str:
        return f"Private note by {self.payload.author}"  # never the note itself


TYPES: tuple[type[Touchpoint], ...] = (RelationshipAssigned, RelationshipNoted)
