"""Timeline payloads are cut to the readable tiers, field by field, from the schema tags."""

from __future__ import annotations

from api.redaction import redact
from events import Tier

ESSENTIAL = frozenset({Tier.ESSENTIAL})
SERVICE = frozenset({Tier.ESSENTIAL, Tier.SERVICE})
ALL = frozenset(Tier)

PROFILE = {
    "name": {"title": "Ms", "family_name": "Niamh"},
    "phones": [{"use": "mobile", "number": "0612345678", "primary": True}],
    "dispatch_instructions": "leave with no. 12",
    "date_of_birth": "1961-07-14",
    "household": {"adults": 2, "marital_status": "widowed"},
}


def test_each_tier_sees_its_fields_nested_ones_included() -> None:
    essential = redact("profile.updated", PROFILE, ESSENTIAL)
    assert essential.payload == {"name": PROFILE["name"], "phones": PROFILE["phones"]}
    assert essential.served == set()
    assert essential.withheld == {"dispatch_instructions", "date_of_birth", "household"}
    service = redact("profile.updated", PROFILE, SERVICE)
    assert set(service.payload) == {"name", "phones", "dispatch_instructions"}
    assert service.served == {"dispatch_instructions"}
    everything = redact("profile.updated", PROFILE, ALL)
    assert everything.payload == PROFILE
    assert {"date_of_birth", "household", "household.marital_status"} <= everything.served


def test_a_field_nobody_tagged_is_not_served() -> None:
    cut = redact("call.logged", {"direction": "inbound", "mood": "angry"}, ALL)
    assert cut.payload == {"direction": "inbound"}
    assert cut.withheld == {"mood"}


def test_free_form_maps_go_or_stay_whole_with_their_field() -> None:
    form = {"form_id": "contact-us", "fields": {"topic": "returns"}, "message": "Hello"}
    cut = redact("web_form.submitted", form, ESSENTIAL)
    assert cut.payload == {"fields": {"topic": "returns"}, "message": "Hello"}
    purchase = {"order_id": "O-1", "lines": [{"sku": "S", "category": "garden"}]}
    assert redact("purchase.completed", purchase, ESSENTIAL).payload == {}
