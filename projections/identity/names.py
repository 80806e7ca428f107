"""A person's name as resolution compares it: enough to tell two people on one phone apart.

Case, accents, spacing and punctuation are ignored; an initial or a shortened given name
("J", "Tom") is taken for the same person ("Jacob", "Thomas"). Only a clearly different
name says two people: precision over recall.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from events import Touchpoint
from events.touchpoints.profile import ProfileUpdated

__all__ = ["NameKey", "name_of"]


def _plain(written: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", (written or "").casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\s\-'.,]+", " ", plain).split())


def _abbreviates(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


@dataclass(frozen=True, slots=True)
class NameKey:
    """Given and family name, normalised; ``given`` is empty when unknown."""

    given: str
    family: str

    @classmethod
    def of(cls, given: str | None, family: str | None) -> NameKey | None:
        """The key of a written name; None without a family name."""
        family_key = _plain(family).replace(" ", "")
        return cls(_plain(given), family_key) if family_key else None

    def clearly_differs(self, other: NameKey) -> bool:
        """A different family name, or different given names neither of which is an
        initial or a shortening of the other."""
        if self.family != other.family:
            return True
        if not self.given or not other.given or _abbreviates(self.given, other.given):
            return False
        return not _abbreviates(self.given.split()[0], other.given.split()[0])


def name_of(event: Touchpoint) -> NameKey | None:
    """The name an event gives its person (a ``profile.updated`` with a name), if any."""
    if isinstance(event, ProfileUpdated) and event.payload.name is not None:
        name = event.payload.name
        return NameKey.of(name.given_name, name.family_name)
    return None
