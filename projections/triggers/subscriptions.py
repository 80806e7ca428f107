"""Which webhook subscribers want which triggers (pure).

A subscription names the rules, kinds and audiences it wants; a filter left out
matches everything. Suppressed triggers are never delivered to anyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from projections.triggers.model import Audience, Kind, Trigger


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    rules: frozenset[str] | None = None
    kinds: frozenset[Kind] | None = None
    audiences: frozenset[Audience] | None = None

    def wants(self, trigger: Trigger) -> bool:
        return (
            trigger.suppressed is None
            and (self.rules is None or trigger.rule in self.rules)
            and (self.kinds is None or trigger.kind in self.kinds)
            and (self.audiences is None or trigger.audience in self.audiences)
        )


def subscribers_of(trigger: Trigger, subscriptions: Iterable[Subscription]) -> list[str]:
    """The names of the subscribers a trigger is to be delivered to."""
    return [s.name for s in subscriptions if s.wants(trigger)]
