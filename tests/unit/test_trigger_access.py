"""Who sees and works which triggers; the status lifecycle; retry backoff (pure)."""

from __future__ import annotations

import pytest

from api import trigger_access as access
from api.roles import Refused, Role
from consumers.webhooks import DispatchConfig
from projections.triggers.lifecycle import Action, InvalidTransition, Status, next_status
from projections.triggers.model import Audience, Kind, Suppression
from projections.triggers.subscriptions import Subscription, subscribers_of
from tests.integration.trigger_support import make_trigger


def test_default_listing_scopes() -> None:
    working = {Status.OPEN, Status.ACKNOWLEDGED}
    assert access.listing_scope(Role.AGENT, set(), set()) == (working, set(Kind))
    assert access.listing_scope(Role.MARKETING, set(), set()) == (working, {Kind.MARKETING})
    assert access.listing_scope(Role.MANAGER, set(), set()) == (set(Status), set(Kind))


@pytest.mark.parametrize("role", [Role.AGENT, Role.MARKETING])
def test_only_managers_see_suppressed_triggers(role: Role) -> None:
    with pytest.raises(Refused, match="may not list suppressed triggers; managers may"):
        access.listing_scope(role, {Status.OPEN, Status.SUPPRESSED}, set())
    with pytest.raises(Refused, match="may not see suppressed"):
        access.check_visible(role, Kind.MARKETING, Status.SUPPRESSED)
    access.check_visible(Role.MANAGER, Kind.MARKETING, Status.SUPPRESSED)


def test_marketing_sees_and_closes_marketing_triggers_only() -> None:
    with pytest.raises(Refused, match="may not list service triggers"):
        access.listing_scope(Role.MARKETING, set(), {Kind.SERVICE})
    access.check_action(Role.MARKETING, Kind.MARKETING, Status.OPEN, Action.CLOSE)
    with pytest.raises(Refused, match="may not acknowledge marketing triggers"):
        access.check_action(Role.MARKETING, Kind.MARKETING, Status.OPEN, Action.ACKNOWLEDGE)
    with pytest.raises(Refused, match="may not see service triggers"):
        access.check_action(Role.MARKETING, Kind.SERVICE, Status.OPEN, Action.CLOSE)


@pytest.mark.parametrize(
    ("status", "action", "after"),
    [
        (Status.OPEN, Action.ACKNOWLEDGE, Status.ACKNOWLEDGED),
        (Status.OPEN, Action.CLOSE, Status.CLOSED),
        (Status.ACKNOWLEDGED, Action.CLOSE, Status.CLOSED),
    ],
)
def test_transitions(status: Status, action: Action, after: Status) -> None:
    assert next_status(status, action) is after


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.ACKNOWLEDGED, Action.ACKNOWLEDGE),
        (Status.CLOSED, Action.ACKNOWLEDGE),
        (Status.CLOSED, Action.CLOSE),
        (Status.SUPPRESSED, Action.CLOSE),
        (Status.SUPPRESSED, Action.ACKNOWLEDGE),
    ],
)
def test_invalid_transitions_say_why(status: Status, action: Action) -> None:
    message = f"cannot {action.value} a trigger that is {status.value}"
    with pytest.raises(InvalidTransition, match=message):
        next_status(status, action)


def test_subscriptions_filter_and_never_take_suppressed_triggers() -> None:
    subs = [
        Subscription("all"),
        Subscription("offers", kinds=frozenset({Kind.MARKETING})),
        Subscription("vip", rules=frozenset({"vip"})),
        Subscription("bosses", audiences=frozenset({Audience.MANAGER})),
    ]
    assert subscribers_of(make_trigger("cross-sell-tv"), subs) == ["all", "offers"]
    vip = make_trigger("vip", kind=Kind.SERVICE, audience=Audience.MANAGER)
    assert subscribers_of(vip, subs) == ["all", "vip", "bosses"]
    held = make_trigger("vip", suppressed=Suppression.FREQUENCY_CAP)
    assert subscribers_of(held, subs) == []


def test_backoff_grows_with_jitter_up_to_a_ceiling_then_gives_up() -> None:
    config = DispatchConfig(backoff_base_s=2.0, backoff_max_s=30.0, max_attempts=8)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (7, 30.0)]:
        delays = [config.retry_in(attempt) for _ in range(50)]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert config.retry_in(8) is None
