"""``touchlog demo``'s data: a few hundred made-up customers and their histories.

Deterministic: the same ``customers``, ``seed``, ``now`` and ``region`` give the same
events, message ids included. Every type in the catalogue appears, so timelines show the
whole range; the first customer is a showcase that has done a bit of everything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from random import Random

from events import Touchpoint
from producers.demo import complaints, conversations, identity, relationship, shopping
from producers.demo.cast import UNITS, make_customer
from producers.demo.story import Story
from producers.demo.theatre import book

Activity = Callable[[Story], object]


def _in_some_unit(action: Callable[[Story, str], object]) -> Activity:
    return lambda story: action(story, story.rng.choice(story.customer.units))


# (what happens, how often on average in a customer's history, to whom)
HISTORY: tuple[tuple[Activity, float, Callable[[Story], bool]], ...] = (
    (shopping.browse, 3.0, lambda s: True),
    (lambda s: shopping.purchase(s, "retail"), 2.5, lambda s: "retail" in s.customer.units),
    (lambda s: shopping.purchase(s, "appliances"), 1.0, lambda s: "appliances" in s.customer.units),
    (book, 1.2, lambda s: "theatre" in s.customer.units),
    (shopping.redeem, 0.5, lambda s: s.customer.loyalty_number is not None),
    (_in_some_unit(conversations.enquire), 0.6, lambda s: True),
    (_in_some_unit(conversations.contact_form), 0.4, lambda s: True),
    (_in_some_unit(conversations.call), 1.2, lambda s: True),
    (_in_some_unit(conversations.chat), 0.4, lambda s: True),
    (_in_some_unit(conversations.text), 0.5, lambda s: True),
    (_in_some_unit(conversations.letter), 0.15, lambda s: True),
    (_in_some_unit(complaints.complaint), 0.3, lambda s: True),
    (_in_some_unit(complaints.survey), 0.3, lambda s: True),
    (_in_some_unit(complaints.feedback), 0.3, lambda s: True),
    (relationship.life_changes, 0.4, lambda s: True),
    (relationship.leave_newsletter, 0.1, lambda s: True),
    (relationship.interests, 0.3, lambda s: True),
    (relationship.competition, 0.2, lambda s: True),
    (relationship.campaign_response, 0.3, lambda s: True),
    (relationship.account_manager, 0.05, lambda s: True),
    (identity.wrong_link_undone, 0.03, lambda s: True),
    (identity.duplicate_merged, 0.05, lambda s: True),
    (identity.wrong_merge_split, 0.02, lambda s: True),
    (identity.namesake_kept_apart, 0.02, lambda s: True),
)


SHOWCASE = "C-100000"
"""The customer who has done a bit of everything: the example the CLI points to."""


def demo_events(
    customers: int = 300, *, seed: int = 7, now: datetime | None = None, region: str = "FR"
) -> list[Touchpoint]:
    """Every customer's touchpoints, oldest first. ``now`` defaults to the current time;
    most customers live in ``region`` (``TOUCHLOG_DEFAULT_REGION``) if the demo has
    addresses there (GB, FR, US)."""
    rng = Random(seed)
    now = now or datetime.now(UTC)
    events: list[Touchpoint] = []
    for number in range(customers):
        customer = make_customer(rng, number, now, region)
        showcase = number == 0
        story = Story(rng, customer, now)
        if showcase:  # long enough ago that every follow-up, even a service visit, happened
            since = now - timedelta(days=720)
            customer = dataclasses.replace(
                customer, units=UNITS, loyalty_number="HM3999999", since=since
            )
            story = Story(rng, customer, now, settle=timedelta(days=450), showcase=True)
        relationship.sign_up(story)
        for activity, mean, applies in HISTORY:
            if applies(story):
                for _ in range(_times(rng, mean, at_least_once=showcase)):
                    activity(story)
        identity.link_identifiers(story)
        events.extend(story.events)
    events.sort(key=lambda event: (event.occurred_at, event.message_id))
    return events


def _times(rng: Random, mean: float, *, at_least_once: bool) -> int:
    """A count with the given mean: the number of successes in six draws."""
    count = sum(rng.random() < mean / 6 for _ in range(6))
    return max(count, 1) if at_least_once else count


__all__ = ["SHOWCASE", "demo_events"]
