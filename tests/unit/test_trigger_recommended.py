"""Cross-sell with ``offer: recommended``: the best category not yet bought, from a
co-purchase snapshot handed to the engine (pure: no database, simulated time)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from projections.recommendations.snapshot import CoPurchases, PairRule
from projections.triggers import RulesError, Trigger, parse_rules
from projections.triggers.rule import Known
from tests.triggers_support import Life, consent, purchase

DAY = timedelta(days=1)

RECOMMENDED = {
    "name": "tent-and-more",
    "type": "cross_sell",
    "bought": "tents",
    "offer": "recommended",
    "within_days": 7,
}


def _rule(x: str, y: str, together: int, buyers_of_x: int, buyers: int = 1000) -> PairRule:
    confidence = together / buyers_of_x
    return PairRule(x, y, together, confidence, together / buyers, confidence * 2)


PLANTED = CoPurchases.of(
    [
        _rule("tents", "sleeping-bags", 80, 100),
        _rule("tents", "stoves", 60, 100),
        _rule("tents", "lamps", 60, 100),
        _rule("stoves", "fuel", 45, 50),
        _rule("stoves", "tents", 30, 50),
        _rule("lamps", "batteries", 10, 100),
    ]
)


def _offered(life: Life, known: Known, after: timedelta) -> list[Trigger]:
    life.now += after
    life.state, fired = life.engine.advance(life.state, life.customer, life.now, known)
    life.triggers += fired
    return fired


# -- the pure choice ------------------------------------------------------------------------


def test_the_best_category_not_yet_bought_is_chosen() -> None:
    best = PLANTED.best({"tents"})
    assert best is not None
    assert (best.category, best.because, best.together) == ("sleeping-bags", "tents", 80)
    assert best.confidence == pytest.approx(0.8)
    # bought already: the next one; a rule from any category bought counts
    assert PLANTED.best({"tents", "sleeping-bags", "stoves"}).category == "fuel"  # type: ignore[union-attr]


def test_ties_break_by_customers_then_by_name_whatever_the_order_loaded() -> None:
    rules = [
        _rule("a", "zebra", 10, 20),
        _rule("a", "yak", 20, 40),  # the same confidence, more customers
        _rule("a", "xerus", 20, 40),  # the same again: by name
    ]
    for seed in range(5):
        random.Random(seed).shuffle(rules)
        snapshot = CoPurchases.of(rules)
        assert [r.category for r in snapshot.ranked({"a"})] == ["xerus", "yak", "zebra"]


def test_nothing_bought_or_nothing_new_recommends_nothing() -> None:
    assert PLANTED.best(set()) is None
    assert PLANTED.best({"batteries"}) is None  # no rule starts from it
    assert PLANTED.best({"lamps", "batteries"}) is None  # its only partner is bought
    assert CoPurchases().best({"tents"}) is None


def test_ranking_equals_a_brute_force_over_every_rule() -> None:
    rng = random.Random(3)
    categories = [f"c{i}" for i in range(12)]
    rules = [
        _rule(x, y, rng.randint(1, 30), 40)
        for x in categories
        for y in categories
        if x != y and rng.random() < 0.4
    ]
    snapshot = CoPurchases.of(rules)
    for _ in range(200):
        bought = set(rng.sample(categories, rng.randint(0, 5)))
        candidates: dict[str, tuple[float, int]] = {}
        for r in rules:
            if r.bought in bought and r.also not in bought:
                c, t = candidates.get(r.also, (0.0, 0))
                candidates[r.also] = (max(c, r.confidence), max(t, r.together))
        expected = sorted(candidates, key=lambda y: (-candidates[y][0], -candidates[y][1], y))
        assert [r.category for r in snapshot.ranked(bought, limit=50)] == expected


# -- the rule -------------------------------------------------------------------------------


def test_a_recommended_offer_is_the_best_category_not_yet_bought() -> None:
    life = Life([RECOMMENDED])
    life.event("consent.changed", consent("granted", "email"))
    life.event("purchase.completed", purchase("sleeping-bags"))
    bought = life.event("purchase.completed", purchase("tents"), after=DAY)
    assert _offered(life, Known(PLANTED), 6 * DAY) == []
    [offer] = _offered(life, Known(PLANTED), DAY)
    # sleeping-bags is bought: stoves and lamps tie on confidence and customers → by name
    assert (offer.rule, offer.offer, offer.channel, offer.evidence) == (
        "tent-and-more",
        "lamps",
        "email",
        (bought,),
    )
    assert "60% of customers who bought tents also bought lamps (60 customers)" in offer.reason


def test_the_trigger_id_does_not_depend_on_the_snapshot() -> None:
    """A timer fired again after a crash, on a newer snapshot, is the same trigger."""
    life = Life([RECOMMENDED])
    life.event("consent.changed", consent("granted", "email"))
    life.event("purchase.completed", purchase("tents"))
    later = life.now + 7 * DAY
    newer = CoPurchases.of([_rule("tents", "stoves", 99, 100)])
    offers = [
        life.engine.advance(life.state, life.customer, later, Known(snapshot))[1][0]
        for snapshot in (PLANTED, newer)
    ]
    assert [o.offer for o in offers] == ["sleeping-bags", "stoves"]
    assert offers[0].trigger_id == offers[1].trigger_id


def test_no_recommendation_offers_the_fallback_or_nothing() -> None:
    fallback = RECOMMENDED | {"fallback": "gift-cards"}
    life = Life([fallback])
    life.event("consent.changed", consent("granted", "email"))
    life.event("purchase.completed", purchase("tents"))
    [offer] = _offered(life, Known(CoPurchases()), 7 * DAY)
    assert offer.offer == "gift-cards"
    assert "no co-purchase to recommend" in offer.reason

    plain = Life([RECOMMENDED])
    plain.event("consent.changed", consent("granted", "email"))
    plain.event("purchase.completed", purchase("tents"))
    assert _offered(plain, Known(CoPurchases()), 7 * DAY) == []

    bought_it = Life([fallback])
    bought_it.event("consent.changed", consent("granted", "email"))
    bought_it.event("purchase.completed", purchase("gift-cards"))
    bought_it.event("purchase.completed", purchase("tents"))
    assert _offered(bought_it, Known(CoPurchases()), 7 * DAY) == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"bought": "tents", "offer": "stoves", "fallback": "lamps"},
            "rules.0.cross_sell.fallback: a fallback is only for offer: recommended "
            "(offer is 'stoves')",
        ),
        (
            {"bought": "recommended", "offer": "recommended"},
            "rules.0.cross_sell.bought: 'recommended' is only for offer, not a category bought",
        ),
        (
            {"bought": "tents", "offer": "recommended", "fallback": "recommended"},
            "rules.0.cross_sell.fallback: the fallback must name a category, not 'recommended'",
        ),
    ],
)
def test_each_mistake_is_named_by_its_path(rule: dict[str, str], expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules({"rules": [{"name": "x", "type": "cross_sell", **rule}]})
    assert caught.value.problems == [expected]


def test_the_rules_that_need_co_purchases_are_known() -> None:
    rules = parse_rules(
        {
            "rules": [
                RECOMMENDED,
                {"name": "fixed", "type": "cross_sell", "bought": "a", "offer": "b"},
            ]
        }
    )
    assert rules.recommending() == ["tent-and-more"]
