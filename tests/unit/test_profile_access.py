"""Who sees what of a profile: roles, tiers, reveals, consented channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.errors import Unprocessable
from api.profile_access import check_reveal, history_allowed, visible_profile
from api.roles import Refused, Role
from events import Tier
from projections.profile import BY_NAME, FIELDS, profile_of, project_all
from tests.factories import BASE_TIME
from tests.profile_support import full_profile_events, touch

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TIERS = {f.name: f.tier for f in FIELDS}


def _profile(extra=()):
    return profile_of(project_all([*full_profile_events(), *extra]), None, NOW)


def test_an_agent_sees_the_essential_tier_and_service_only_when_revealed() -> None:
    plain = visible_profile(_profile(), Role.AGENT, None)
    assert {TIERS[name] for name in plain.values} == {Tier.ESSENTIAL}
    assert plain.audited() == []
    assert set(plain.withheld) == {"service", "restricted"}
    revealed = visible_profile(_profile(), Role.AGENT, Tier.SERVICE)
    assert {TIERS[name] for name in revealed.values} == {Tier.ESSENTIAL, Tier.SERVICE}
    assert set(revealed.audited()) == {f.name for f in FIELDS if f.tier is Tier.SERVICE}
    with pytest.raises(Refused, match="agent may not see restricted"):
        visible_profile(_profile(), Role.AGENT, Tier.RESTRICTED)


def test_a_manager_sees_every_tier_and_every_read_above_essential_is_audited() -> None:
    seen = visible_profile(_profile(), Role.MANAGER, None)
    assert set(seen.values) == set(BY_NAME)
    assert seen.withheld == {}
    assert set(seen.audited()) == {f.name for f in FIELDS if f.tier is not Tier.ESSENTIAL}


def _consent(channel, status, days, **extra):
    payload = {
        "purpose": "marketing",
        "channel": channel,
        "status": status,
        "legal_basis": "consent",
        "captured_via": "call",
        **extra,
    }
    return touch(
        "consent.changed", payload, at=BASE_TIME + timedelta(days=days), message_id=f"c{days}"
    )


def test_marketing_gets_only_what_a_consented_channel_needs() -> None:
    # The full customer granted marketing by email only.
    seen = visible_profile(_profile(), Role.MARKETING, None)
    assert set(seen.values) == {"consents", "interests", "segments", "emails", "name", "title"}
    texts = visible_profile(_profile([_consent("sms", "granted", 50)]), Role.MARKETING, None)
    assert [p["use"] for p in texts.values["phones"]] == ["mobile"]
    calls = visible_profile(_profile([_consent("phone", "granted", 50)]), Role.MARKETING, None)
    assert len(calls.values["phones"]) == 2
    mail = visible_profile(_profile([_consent(None, "granted", 50)]), Role.MARKETING, None)
    assert {"emails", "phones", "addresses"} <= set(mail.values)
    # A later revocation on every channel overrides the earlier email grant.
    revoked = visible_profile(_profile([_consent(None, "revoked", 50)]), Role.MARKETING, None)
    assert set(revoked.values) == {"consents", "interests", "segments"}
    # An expired grant is no grant.
    expiring = _consent(
        "mail", "granted", 50, expires_at=(BASE_TIME + timedelta(days=60)).isoformat()
    )
    expired = visible_profile(_profile([expiring]), Role.MARKETING, None)
    assert "addresses" not in expired.values
    with pytest.raises(Refused, match="marketing role cannot reveal"):
        visible_profile(_profile(), Role.MARKETING, Tier.SERVICE)


def test_marketing_never_gets_restricted_fields() -> None:
    everyone = [_consent(None, "granted", 50)]
    seen = visible_profile(_profile(everyone), Role.MARKETING, None)
    assert not [name for name in seen.values if TIERS[name] is Tier.RESTRICTED]


@pytest.mark.parametrize("field", [f for f in FIELDS if not f.time_only], ids=lambda f: f.name)
def test_history_follows_the_same_rules(field) -> None:
    history_allowed(field, Role.MANAGER, None)
    if field.tier is Tier.ESSENTIAL:
        history_allowed(field, Role.AGENT, None)
    else:
        with pytest.raises(Refused, match=field.name):
            history_allowed(field, Role.AGENT, None)
    if field.tier is Tier.SERVICE:
        history_allowed(field, Role.AGENT, Tier.SERVICE)
    if field.tier is Tier.RESTRICTED:
        with pytest.raises(Refused):
            history_allowed(field, Role.AGENT, Tier.SERVICE)
    if field.name in ("consents", "interests"):
        history_allowed(field, Role.MARKETING, None)
    else:
        with pytest.raises(Refused, match=f"marketing role .*{field.name}"):
            history_allowed(field, Role.MARKETING, None)


def test_reveals_a_role_may_not_make_are_refused_up_front() -> None:
    check_reveal(Role.AGENT, Tier.SERVICE, "refund dispute")
    check_reveal(Role.MANAGER, Tier.RESTRICTED)
    with pytest.raises(Refused):
        check_reveal(Role.AGENT, Tier.RESTRICTED, "curious")
    with pytest.raises(Refused):
        check_reveal(Role.MARKETING, Tier.SERVICE, "campaign")


def test_an_agents_reveal_needs_a_reason() -> None:
    with pytest.raises(Unprocessable) as refused:
        check_reveal(Role.AGENT, Tier.SERVICE)
    assert refused.value.field == "reason"
    check_reveal(Role.AGENT, None)
