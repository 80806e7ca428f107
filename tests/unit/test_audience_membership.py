"""Acceptance 1, pure: audience membership after every event equals an independent
recomputation from the profile, and each entry and exit is numbered once.

The reference folds the events that arrived so far with the *profile's* fold
(``projections.profile.state.fold``) and reads membership from that state with the plainest
code, sharing nothing with ``projections.audiences`` but the parsed rules. The projection
folds batch by batch, its state round-tripped through JSON between batches (as after a
restart), in any arrival order, with re-published copies.
"""

from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Touchpoint
from projections.audiences import parse_audiences
from projections.audiences.membership import Standing
from projections.audiences.postgres import AudienceView, fold_batch
from projections.audiences.rules import Audience, Audiences
from projections.audiences.traits import Traits
from projections.profile.facts import project_all
from projections.profile.state import ProfileState, fold
from tests.factories import BASE_TIME
from tests.profile_support import PAYLOADS, touch
from touchlog import config_files

EXAMPLE = Path(__file__).parents[2] / "examples" / "audiences" / "marketing.yaml"

RULES = parse_audiences(
    {
        "spend_bands": {"currency": "EUR", "bands": {"low": 0, "medium": 100, "high": 500}},
        "audiences": [
            {"name": "everyone-email", "channels": ["email"]},
            {"name": "paris", "channels": ["email", "mail"], "when": {"postcode_area": ["75"]}},
            {"name": "irish", "channels": ["sms", "mail"], "when": {"country": ["IE"]}},
            {
                "name": "gardeners",
                "channels": ["email"],
                "when": {"categories_bought": {"any_of": ["garden"]}},
            },
            {
                "name": "no-kitchen",
                "channels": ["email", "sms"],
                "when": {"categories_bought": {"none_of": ["kitchen"]}},
            },
            {"name": "high", "channels": ["email"], "when": {"spend_band": ["high"]}},
            {
                "name": "mid-spend",
                "channels": ["email"],
                "when": {"lifetime_spend": {"currency": "EUR", "at_least": 50, "at_most": 800}},
            },
            {
                "name": "recent",
                "channels": ["email"],
                "when": {"days_since_last_purchase": {"at_most": 30}},
            },
            {
                "name": "lapsed",
                "channels": ["mail"],
                "when": {"days_since_last_purchase": {"at_least": 120}},
            },
            {"name": "complaining", "channels": ["email"], "when": {"complaint": "open"}},
            {"name": "calm", "channels": ["sms"], "when": {"complaint": "none"}},
            {"name": "opera", "channels": ["email"], "when": {"interests": {"any_of": ["opera"]}}},
            {
                "name": "profiled",
                "channels": ["email"],
                "when": {"consent": {"purpose": "profiling", "channel": "email"}},
            },
        ],
    }
)


# --- the reference: the profile's fold, read plainly -----------------------------------


def _granted(state: ProfileState, purpose: str, channel: str, at: datetime) -> bool:
    held = [
        state.consents[k] for k in (f"{purpose}/{channel}", f"{purpose}/*") if k in state.consents
    ]
    if not held:
        return False
    newest = max(held, key=lambda f: f.order())
    expires = newest.value["expires_at"]
    return newest.value["status"] == "granted" and (
        expires is None or datetime.fromisoformat(expires) > at
    )


def _reference(audience: Audience, rules: Audiences, state: ProfileState, at: datetime) -> bool:
    if not any(_granted(state, audience.purpose, c, at) for c in audience.channels):
        return False
    w = audience.when
    addresses = state.value_of("addresses") or []
    categories = state.purchases.categories
    spent = state.purchases.by_currency
    last = state.purchases.last
    open_case = any(c.open for c in state.complaints.values())
    if w.country and not any(a["country"] in w.country for a in addresses):
        return False
    if w.postcode_area and not any(
        (a.get("postal_code") or "").replace(" ", "").startswith(tuple(w.postcode_area))
        for a in addresses
    ):
        return False
    if w.categories_bought:
        rule = w.categories_bought
        if rule.any_of and not categories & set(rule.any_of):
            return False
        if rule.none_of and categories & set(rule.none_of):
            return False
    if w.interests and w.interests.any_of and not state.interests & set(w.interests.any_of):
        return False
    if w.spend_band:
        if rules.spend_bands.currency not in spent:
            return False
        total = spent[rules.spend_bands.currency][1]
        band = max(
            (low, name)
            for name, low in rules.spend_bands.bands.items()
            if total >= Decimal(str(low))
        )[1]
        if band not in w.spend_band:
            return False
    if w.lifetime_spend:
        total = spent.get(w.lifetime_spend.currency, (0, Decimal(0)))[1]
        if not w.lifetime_spend.holds(float(total)):
            return False
    if w.days_since_last_purchase and (
        last is None or not w.days_since_last_purchase.holds((at - last.occurred_at).days)
    ):
        return False
    if w.complaint and open_case != (w.complaint == "open"):
        return False
    return w.consent is None or _granted(state, w.consent.purpose, w.consent.channel, at)


def reference_members(rules: Audiences, arrived: list[Touchpoint]) -> set[str]:
    state = fold(project_all(arrived))
    at = max(e.occurred_at for e in arrived)
    return {a.name for a in rules.audiences if _reference(a, rules, state, at)}


# --- histories that move customers in and out ------------------------------------------

KINDS = {
    "consent.changed": 5,
    "profile.updated": 3,
    "purchase.completed": 4,
    "complaint.opened": 2,
    "complaint.resolved": 2,
    "interest.declared": 1,
    "call.logged": 1,
    "survey.responded": 1,
}
CONSENT = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(["marketing", "marketing", "profiling"]),
        "channel": st.sampled_from([None, "email", "sms", "mail"]),
        "status": st.sampled_from(["granted", "granted", "revoked", "denied"]),
        "legal_basis": st.just("consent"),
        "captured_via": st.just("call"),
        "expires_at": st.sampled_from(
            [None, None, None, (BASE_TIME + timedelta(days=100)).isoformat()]
        ),
    }
)
INTERESTS = st.fixed_dictionaries(
    {"categories": st.lists(st.sampled_from(["garden", "opera"]), min_size=1, max_size=2)}
)


@st.composite
def histories(draw: st.DrawFn, max_size: int = 30) -> list[Touchpoint]:
    """One customer's events in arrival order (not time order), with re-published copies."""
    kinds = draw(
        st.lists(
            st.sampled_from([k for k, weight in KINDS.items() for _ in range(weight)]),
            min_size=1,
            max_size=max_size,
        )
    )
    payloads = {"consent.changed": CONSENT, "interest.declared": INTERESTS}
    events = [
        touch(
            kind,
            draw(payloads.get(kind, PAYLOADS[kind])),
            at=BASE_TIME + timedelta(days=draw(st.integers(0, 300)), hours=draw(st.integers(0, 3))),
            message_id=f"m{i}",
            customer="cust-1",
            system=draw(st.sampled_from(["sys-a", "sys-b"])),
        )
        for i, kind in enumerate(kinds)
    ]
    copies = draw(st.lists(st.sampled_from(events), max_size=3))
    return draw(st.permutations(events + copies))


# --- the projection, batch by batch ----------------------------------------------------


def _restart(traits: dict[str, Traits], standings: dict[str, dict[str, Standing]]) -> Any:
    """What a restarted stage loads: the stored JSON, the stored rows."""
    return {c: Traits.from_json(t.to_json()) for c, t in traits.items()}, copy.deepcopy(standings)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(), cuts=st.lists(st.integers(1, 40), max_size=4))
def test_membership_after_every_event_is_the_recomputation_from_the_profile(
    events: list[Touchpoint], cuts: list[int]
) -> None:
    view = AudienceView(RULES)
    happened = view.changes(events)
    bounds = sorted({0, len(happened), *(c for c in cuts if c < len(happened))})
    traits: dict[str, Traits] = {}
    standings: dict[str, dict[str, Standing]] = {}
    transitions = []
    for start, end in itertools.pairwise(bounds):
        for i in range(start, end):  # one event at a time: membership after each
            folded = fold_batch(RULES, happened[i : i + 1], traits, standings)
            transitions += folded.transitions
            members = {a for a, s in standings.get("cust-1", {}).items() if s.member}
            assert members == reference_members(RULES, events[: i + 1]), i
        traits, standings = _restart(traits, standings)

    # the same history in the batches the cuts make gives the same records
    traits, standings, batched = {}, {}, []
    for start, end in itertools.pairwise(bounds):
        batched += fold_batch(RULES, happened[start:end], traits, standings).transitions
        traits, standings = _restart(traits, standings)
    assert [t.record() for t in batched] == [t.record() for t in transitions]

    # each audience's changes alternate, entered first, numbered 1, 2, …, ids unique
    for audience in RULES.audiences:
        mine = [t for t in transitions if t.audience == audience.name]
        assert [t.number for t in mine] == list(range(1, len(mine) + 1))
        assert [t.kind for t in mine] == [
            "audience.entered" if n % 2 else "audience.exited" for n in range(1, len(mine) + 1)
        ]
    assert len({t.id for t in transitions}) == len(transitions)


def test_every_mistake_in_an_audiences_document_is_named_by_its_path() -> None:
    document = {
        "audiences": [
            {
                "name": "Bad Name",
                "channels": ["web"],
                "when": {"spend_band": ["gold"], "lifetime_spend": {}, "regoin": ["x"]},
            },
            {"name": "ok", "channels": ["email"], "when": {"spend_band": ["gold"]}},
            {"name": "ok", "channels": ["email"], "when": {"complaint": "maybe"}},
        ]
    }
    with pytest.raises(ValueError, match=r"^audiences\.yaml: ") as raised:
        parse_audiences(document, "audiences.yaml")
    for path in (
        "audiences.0.name:",
        "audiences.0.channels.0:",
        "audiences.0.when.lifetime_spend:",
        "audiences.0.when.regoin:",
        "audiences.2.when.complaint:",
    ):
        assert path in str(raised.value), path
    fixed = {"audiences": [document["audiences"][1], {"name": "ok", "channels": ["email"]}]}
    with pytest.raises(ValueError, match="is defined twice") as raised:
        parse_audiences(fixed)
    assert "audiences.0.when.spend_band.0: 'gold' is not a spend band" in str(raised.value)
    assert "audiences.1.name: 'ok' is defined twice" in str(raised.value)


def test_the_example_audiences_parse_and_a_change_changes_the_fingerprint() -> None:
    audiences = config_files.load(EXAMPLE, parse_audiences)
    assert [a.name for a in audiences.audiences][:2] == ["paris-gardeners", "big-spenders-email"]
    changed = audiences.model_copy(update={"audiences": audiences.audiences[:1]})
    assert changed.fingerprint() != audiences.fingerprint()
    assert (
        parse_audiences(audiences.model_dump(mode="json")).fingerprint() == audiences.fingerprint()
    )
