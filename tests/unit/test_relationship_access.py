"""Relationship ownership in the access policy (pure): the owning agent may reveal the
restricted tier, with a reason; another agent may not; managers always read it."""

from __future__ import annotations

import pytest

from api.errors import Unprocessable
from api.profile_access import check_reveal, history_allowed, readable_tiers
from api.roles import Refused, Role
from events import Tier, field_tiers
from events.touchpoints import RelationshipNotedPayload
from projections.profile.fields import BY_NAME


def test_only_the_owner_among_agents_reveals_the_restricted_tier() -> None:
    assert readable_tiers(Role.AGENT, Tier.RESTRICTED, owns=True) == frozenset(Tier)
    with pytest.raises(Refused, match="owns the customer's relationship"):
        readable_tiers(Role.AGENT, Tier.RESTRICTED)
    assert Tier.RESTRICTED not in readable_tiers(Role.AGENT, None, owns=True)
    assert Tier.RESTRICTED not in readable_tiers(Role.AGENT, Tier.SERVICE, owns=True)
    assert readable_tiers(Role.MANAGER, None) == frozenset(Tier)


def test_the_owner_still_gives_a_reason() -> None:
    with pytest.raises(Unprocessable):
        check_reveal(Role.AGENT, Tier.RESTRICTED, None, owns=True)
    check_reveal(Role.AGENT, Tier.RESTRICTED, "account review", owns=True)
    with pytest.raises(Refused):
        check_reveal(Role.MARKETING, Tier.RESTRICTED, "why", owns=True)


def test_a_restricted_history_is_the_owners_with_a_reveal() -> None:
    birth = BY_NAME["date_of_birth"]
    history_allowed(birth, Role.AGENT, Tier.RESTRICTED, owns=True)
    with pytest.raises(Refused):
        history_allowed(birth, Role.AGENT, Tier.RESTRICTED)
    with pytest.raises(Refused, match="reveal=restricted"):
        history_allowed(birth, Role.AGENT, None, owns=True)


def test_a_private_note_is_restricted() -> None:
    assert field_tiers(RelationshipNotedPayload)["note"] is Tier.RESTRICTED
