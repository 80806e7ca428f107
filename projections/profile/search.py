"""Search terms: how a rep's query (a name, an email, a phone, a postcode) finds a customer.

Every name word, email, phone and postcode a customer ever gave is a term, normalised
the same way for the stored value and the query: a former address still finds them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from events.sensitivity import ERASED
from projections.identity.identifiers import normalise_email, normalise_phone
from projections.profile.facts import Fact

NAME, EMAIL, PHONE, POSTCODE = "name", "email", "phone", "postcode"
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def fold_word(text: str) -> str:
    """Lower case, accents removed: ``Siobhán`` finds ``siobhan``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_words(text: str) -> list[str]:
    return [fold_word(word) for word in _WORD.findall(text)]


def postcode(text: str) -> str:
    return _NOT_ALNUM.sub("", text.upper())


def terms_of(fact: Fact, default_region: str) -> list[tuple[str, str]]:
    """(kind, term) of every searchable value a fact states."""
    value: Any = fact.value
    if fact.kind == "name":
        parts = (value.get(part) for part in ("given_name", "middle_names", "family_name"))
        return [(NAME, w) for part in parts if part and part != ERASED for w in name_words(part)]
    if fact.kind == "emails":
        found = (normalise_email(e["address"]) for e in value)
        return [(EMAIL, e) for e in found if e]
    if fact.kind == "phones":
        return [
            (PHONE, normalise_phone(p["number"], default_region) or _digits(p["number"]))
            for p in value
        ]
    if fact.kind == "addresses":
        codes = (postcode(a["postal_code"]) for a in value if a.get("postal_code"))
        return [(POSTCODE, code) for code in codes if code]
    return []


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c == "+")


@dataclass(frozen=True, slots=True)
class Lookup:
    """One way of reading a query: a term of a kind, exact or as a prefix."""

    kind: str
    term: str
    prefix: bool = False


def lookups(query: str, default_region: str) -> list[list[Lookup]]:
    """Readings of a query; each inner list must all match (the words of a name)."""
    text = query.strip()
    readings: list[list[Lookup]] = []
    email = normalise_email(text)
    if email:
        readings.append([Lookup(EMAIL, email)])
    phone = normalise_phone(text, default_region)
    if phone:
        readings.append([Lookup(PHONE, phone)])
    code = postcode(text)
    if code and len(code) <= 10 and any(c.isdigit() for c in code):
        readings.append([Lookup(POSTCODE, code)])
    words = name_words(text)
    if words and not email:
        readings.append([Lookup(NAME, w, prefix=True) for w in words[:5]])
    return readings
