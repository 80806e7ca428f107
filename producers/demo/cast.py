"""The demo's made-up customers and the business they deal with.

Names are invented combinations; emails use the reserved ``example.*`` domains and
phone numbers the ranges set aside for fiction (UK 07700 900xxx, FR 06 39 98 xx xx,
US 555-01xx), so nothing here can reach a real person.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from events.touchpoints import PostalAddress, Title

GIVEN = (
    "Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arthur", "Léa", "Hugo",
    "Chloé", "Louis", "Camille", "Jules", "Manon", "Gabriel", "Zoe", "Theo", "Priya",
    "Ravi", "Aisha", "Omar", "Mei", "Kenji", "Siobhan", "Niamh", "Ewan", "Freya", "Ana",
)  # fmt: skip
FAMILY = (
    "Hartwell", "Penrose", "Ashdown", "Marlow", "Fenwick", "Thorne", "Caldwell",
    "Brightmore", "Lindqvist", "Okafor", "Duval", "Marchetti", "Rousseau", "Lefebvre",
    "Kowalczyk", "Nakamura", "Oakes", "Whitlock", "Ferreira", "Quennell", "Amberley",
)  # fmt: skip
STREETS = ("Larkspur Lane", "Quarry Row", "Millbrook Road", "Tanners Walk", "Kestrel Close")
RUES = ("rue des Tilleuls", "allée des Glycines", "rue du Moulin-Vert", "quai des Brumes")
PLACES = {
    "GB": ("Bristol", "York", "Norwich", "Exeter", "Leeds"),
    "FR": ("Lyon", "Nantes", "Lille", "Bordeaux"),
    "US": ("Boston", "Chicago", "Seattle"),
}
CURRENCY = {"GB": "GBP", "FR": "EUR", "US": "USD"}
US_AREAS = ("202", "312", "415", "617")

UNITS = ("retail", "appliances", "theatre")
"""The business units; ``group`` runs loyalty, marketing and identity for all of them."""


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    number: int
    customer_id: str
    title: Title
    given_name: str
    family_name: str
    email: str
    phone: str
    country: str
    address: PostalAddress
    loyalty_number: str | None
    units: tuple[str, ...]
    since: datetime
    known_share: float
    """How often a channel knows the customer_id rather than only its own identifier."""

    @property
    def currency(self) -> str:
        return CURRENCY[self.country]

    @property
    def retail_number(self) -> str:
        return f"R{700_000 + self.number * 7}"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _phone(country: str, number: int) -> str:
    if country == "GB":
        return f"+447700900{number % 1000:03d}"
    if country == "FR":
        return f"+3363998{number % 10_000:04d}"
    return f"+1{US_AREAS[number % 4]}55501{number // 4 % 100:02d}"


def _address(rng: Random, country: str) -> PostalAddress:
    locality = rng.choice(PLACES[country])
    if country == "FR":
        line, postal = (
            f"{rng.randint(1, 80)} {rng.choice(RUES)}",
            f"{rng.randint(10, 95)}0{rng.randint(10, 99)}",
        )
    else:
        line = f"{rng.randint(1, 240)} {rng.choice(STREETS)}"
        postal = (
            f"{locality[:2].upper()}{rng.randint(1, 19)} {rng.randint(1, 9)}XY"
            if country == "GB"
            else f"0{rng.randint(1000, 9999)}"
        )
    return PostalAddress(lines=(line,), locality=locality, postal_code=postal, country=country)


def make_customer(rng: Random, number: int, now: datetime) -> DemoCustomer:
    country = rng.choices(("GB", "FR", "US"), weights=(55, 35, 10))[0]
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    title = rng.choice((Title.MR, Title.MRS, Title.MS, Title.MX, Title.DR, Title.MISS))
    domain = rng.choice(("example.com", "example.org", "example.net"))
    units = tuple(
        unit for unit, share in zip(UNITS, (0.9, 0.4, 0.35), strict=True) if rng.random() < share
    )
    return DemoCustomer(
        number=number,
        customer_id=f"C-{100_000 + number}",
        title=title,
        given_name=given,
        family_name=family,
        email=f"{_ascii(given)}.{_ascii(family)}{number}@{domain}",
        phone=_phone(country, number),
        country=country,
        address=_address(rng, country),
        loyalty_number=f"HM{4_000_000 + number * 13}" if rng.random() < 0.6 else None,
        units=units or ("retail",),
        since=now - timedelta(days=rng.randint(30, 720), seconds=rng.randint(0, 86_399)),
        known_share=rng.choice((0.5, 0.75, 0.9, 1.0)),
    )
