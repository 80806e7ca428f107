"""What the access audit keeps of a search, the tier it records, and what an agent reads
of a trigger's reason (pure)."""

from __future__ import annotations

import pytest

from api.audit_masks import masked_identifier, masked_query
from api.redaction import highest_tier, tier_of
from api.roles import Refused, Role
from api.trigger_access import WITHHELD_REASONS, reasons_readable, shown_reason
from events import Tier


@pytest.mark.parametrize(
    ("query", "kind", "masked"),
    [
        ("ann.smith@example.com", "email", "a•••@e•••.com"),
        ("06 28 23 04 55", "phone", "••••••••55"),
        ("+33628230455", "phone", "•••••••••55"),
        ("Siobhán Kelly", "words", "S••• K•••"),
        ("75011", "words", "7•••"),
        ("SW1A 1AA", "words", "S••• 1•••"),
    ],
)
def test_a_query_is_kept_masked(query: str, kind: str, masked: str) -> None:
    found = masked_query(query)
    assert found == {"kind": kind, "masked": masked}
    assert query not in found["masked"]


def test_an_identifier_is_kept_masked() -> None:
    assert masked_identifier("external_id", "loyalty:998877") == {
        "kind": "external_id",
        "masked": "loyalty:9•••",
    }
    assert masked_identifier("phone", "+33 6 12 34 56 78")["masked"] == "•••••••••78"


def test_the_tier_recorded_is_the_highest_served() -> None:
    assert tier_of("nps") is Tier.SERVICE
    assert tier_of("date_of_birth") is Tier.RESTRICTED
    assert tier_of("purchase.completed.total") is Tier.SERVICE
    assert tier_of("call.logged.summary") is Tier.SERVICE
    assert tier_of("something.unknown") is Tier.SERVICE  # never under-stated
    assert highest_tier([]) is Tier.ESSENTIAL
    assert highest_tier(["nps", "date_of_birth", "name"]) is Tier.RESTRICTED
    assert highest_tier(["name"]) is Tier.ESSENTIAL


def test_an_agent_reads_a_reason_only_with_a_reveal() -> None:
    assert not reasons_readable(Role.AGENT, None)
    assert reasons_readable(Role.AGENT, Tier.SERVICE)
    assert reasons_readable(Role.MANAGER, None)
    with pytest.raises(Refused):
        reasons_readable(Role.AGENT, Tier.RESTRICTED)
    reason = "Call back: rated 'Delivery' 2/5, NPS 6"
    shown = shown_reason("survey_follow_up", reason, readable=False)
    assert "2/5" not in shown
    assert "NPS" not in shown
    assert shown.startswith(WITHHELD_REASONS["survey_follow_up"])
    assert shown_reason("survey_follow_up", reason, readable=True) == reason
    assert "reveal=service" in shown_reason("a_new_rule_type", reason, readable=False)
