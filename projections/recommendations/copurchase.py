"""Co-purchase counts: "customers who bought X also bought Y", as association rules.

The method is the pair step of association-rule mining (Agrawal & Srikant's support and
confidence, with lift): for categories X and Y, *support* is the share of buying customers
who bought both, *confidence* the share of X's buyers who also bought Y, *lift* the
confidence over Y's own share. It is well kept (textbook, explainable to marketing in one
line, no model to train or drift) and exact incrementally: a customer's first purchase in a
category adds one to that category and to each pair it forms with the customer's other
categories, so the counts are sums of facts that each arrive once.

Pure: what a batch adds, from each customer's categories before and after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from projections.profile.facts import Fact


def bought(facts: Iterable[Fact]) -> dict[str, set[str]]:
    """Customer → the categories their purchases name."""
    found: dict[str, set[str]] = {}
    for fact in facts:
        if fact.kind == "purchase":
            found.setdefault(fact.customer_id, set()).update(
                line["category"] for line in fact.value["lines"]
            )
    return found


@dataclass(slots=True)
class Increments:
    buyers: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)


def increments(before: Mapping[str, set[str]], new: Mapping[str, set[str]]) -> Increments:
    """What the counts gain when each customer adds ``new`` (categories they had not bought)
    to ``before``."""
    gained = Increments()
    for customer, added in new.items():
        if not added:
            continue
        had = before.get(customer, set())
        if not had:
            gained.buyers += 1
        gained.categories.update(added)
        after = had | added
        for x in after:
            for y in after:
                if x != y and (x in added or y in added):
                    gained.pairs[x, y] += 1
    return gained
