"""Merges and splits, as audiences follow them: the profile's way.

A customer's profile is the fold of the facts stated under every id of its merge family
(``projections.profile`` reads a family's facts together). Audiences keep each id's own
traits, as stated under it, and evaluate a family's survivor on the union of its ids'
traits: traits keep the position in history of what set them, so the union equals the
fold of the family's facts. A customer merged into another belongs to no audience; a
split gives the ids that leave a family back their own traits.

Pure: ``Families`` is the merged-into relation of the ids a batch touches (loaded by the
adapter with their whole families), changed by ``customer.merged`` and
``customer.split`` events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from projections.audiences.traits import Traits


@dataclass(frozen=True, slots=True)
class Regrouped:
    """A ``customer.merged`` (``others`` merged into ``survivor``) or a ``customer.split``
    (``others``, one id, leaves ``survivor``, the original)."""

    kind: Literal["merged", "split"]
    survivor: str
    others: tuple[str, ...]
    at: datetime
    caused_by: str


@dataclass(slots=True)
class Families:
    """Who was merged into whom (each id → the one it was merged into)."""

    parents: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    """Ids whose parent was set or removed (for the adapter to write)."""

    def root(self, customer: str) -> str:
        """The surviving customer of ``customer``'s family (itself if never merged)."""
        seen = {customer}
        while (parent := self.parents.get(customer)) is not None and parent not in seen:
            seen.add(parent)
            customer = parent
        return customer

    def members(self, root: str) -> list[str]:
        """The survivor and every id merged into it, directly or through a chain, sorted."""
        return sorted({root, *(c for c in self.parents if self.root(c) == root)})

    def merge(self, survivor: str, merged: Iterable[str]) -> list[str]:
        """``merged`` into ``survivor``; the ids that left their own family (those already
        in it, or whose merge would make a loop, are left as they are)."""
        moved = []
        for customer in merged:
            if customer == survivor or self.root(survivor) == customer:
                continue
            if self.parents.get(customer) == survivor:
                continue
            self.parents[customer] = survivor
            self.changed.add(customer)
            moved.append(customer)
        return moved

    def split(self, original: str, new: str) -> bool:
        """``new`` (with what was merged into it) leaves ``original``'s family; False if it
        was not in it (a split to a new customer moves identifiers, not history)."""
        if new == original or self.root(new) != self.root(original) or new not in self.parents:
            return False
        del self.parents[new]
        self.changed.add(new)
        return True

    def traits_of(self, root: str, own: Mapping[str, Traits]) -> Traits:
        """What the family knows: its ids' own traits, united (the survivor's own object
        when nobody was merged into it)."""
        members = self.members(root) if self.parents else [root]
        if members == [root]:
            return own.get(root) or Traits()
        united = Traits()
        for member in members:
            if member in own:
                united.absorb(own[member])
        return united
