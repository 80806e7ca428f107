"""The strongest co-purchase rules, held in memory: what the trigger worker offers from.

A ``CoPurchases`` snapshot holds, per category bought, its strongest rules "bought X, also
bought Y" (loaded from the live recommendations view by ``postgres.strongest_rules``).
``best`` is the same ranking as the SQL read ``postgres.recommended``, and pure: among the
categories not yet bought, the highest confidence of a rule from any category bought, then
the most customers who bought both, then the category's name (so ties break the same way
every time).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


class PairRule(NamedTuple):
    """Customers who bought ``bought`` also bought ``also``."""

    bought: str
    also: str
    together: int
    """Customers who bought both."""
    confidence: float
    """Share of ``bought``'s buyers who also bought ``also``."""
    support: float
    """Share of all buying customers who bought both."""
    lift: float


class Recommended(NamedTuple):
    """A category to offer, with the figures of its strongest rule."""

    category: str
    confidence: float
    together: int
    support: float
    lift: float
    because: str
    """The category bought that the strongest rule starts from."""


@dataclass(frozen=True)
class CoPurchases:
    """Per category bought, its strongest rules, best first (at most ``per_category``)."""

    rules: Mapping[str, tuple[PairRule, ...]] = field(default_factory=dict)
    loaded_at: datetime | None = None
    per_category: int = 0

    @classmethod
    def of(
        cls, rules: Iterable[PairRule], loaded_at: datetime | None = None, per_category: int = 0
    ) -> CoPurchases:
        by_bought: dict[str, list[PairRule]] = {}
        for rule in rules:
            by_bought.setdefault(rule.bought, []).append(rule)
        ranked = {x: tuple(sorted(found, key=_rank)) for x, found in by_bought.items()}
        return cls(ranked, loaded_at, per_category)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rules.values())

    def ranked(self, bought: Collection[str], limit: int = 10) -> list[Recommended]:
        """Categories not in ``bought`` that buyers of ``bought`` also bought, best first."""
        best: dict[str, Recommended] = {}
        for x in sorted(bought):
            for rule in self.rules.get(x, ()):
                if rule.also in bought:
                    continue
                held = best.get(rule.also)
                if held is None:
                    best[rule.also] = Recommended(
                        rule.also, rule.confidence, rule.together, rule.support, rule.lift, x
                    )
                    continue
                # As the SQL read does: each figure is the best of any rule to the category.
                stronger = rule.confidence > held.confidence
                best[rule.also] = Recommended(
                    rule.also,
                    max(held.confidence, rule.confidence),
                    max(held.together, rule.together),
                    max(held.support, rule.support),
                    max(held.lift, rule.lift),
                    x if stronger else held.because,
                )
        ordered = sorted(best.values(), key=lambda r: (-r.confidence, -r.together, r.category))
        return ordered[:limit]

    def best(self, bought: Collection[str]) -> Recommended | None:
        """The one category to offer someone who bought ``bought``; None if there is none
        (nothing bought, or no rule leads anywhere new)."""
        found = self.ranked(bought, limit=1)
        return found[0] if found else None


def _rank(rule: PairRule) -> tuple[float, int, str]:
    return (-rule.confidence, -rule.together, rule.also)


NO_CO_PURCHASES = CoPurchases()
"""Before the first load, or where no rule needs it: nothing to recommend."""
