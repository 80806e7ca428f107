"""The demo's made-up customers and the business they deal with.

Names are invented combinations that fit their titles; emails use the reserved
``example.*`` domains. Phone numbers must be valid (the resolver refuses others, and a
demo profile's number must be found by ``/lookup``): they are variations on
libphonenumber's example number for each country, so they look like every other
number a user types.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from random import Random

import phonenumbers

from events.touchpoints import PostalAddress, Title

FEMININE = (
    "Amelia", "Isla", "Ava", "Mia", "Léa", "Chloé", "Manon", "Zoe", "Priya", "Aisha",
    "Mei", "Siobhan", "Niamh", "Freya", "Ana",
)  # fmt: skip
MASCULINE = (
    "Oliver", "Noah", "Leo", "Arthur", "Hugo", "Louis", "Jules", "Gabriel", "Theo",
    "Ravi", "Omar", "Kenji", "Ewan",
)  # fmt: skip
EITHER = ("Camille", "Alex", "Sam")
GIVEN = FEMININE + MASCULINE + EITHER
NAMES_FOR_TITLE = {
    Title.MR: MASCULINE,
    Title.MRS: FEMININE,
    Title.MS: FEMININE,
    Title.MISS: FEMININE,
    Title.MX: GIVEN,
    Title.DR: GIVEN,
}
"""First names a title goes with: no "Mrs Hugo"."""
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
COUNTRIES = ("GB", "FR", "US")
SHARES = (55, 35, 10)
"""Where customers live: the home region (``TOUCHLOG_DEFAULT_REGION``) first."""

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
    date_of_birth: date
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


def countries(region: str) -> tuple[str, ...]:
    """The customers' countries, most customers' first: the home region if it is one."""
    home = region.upper()
    return (home, *(c for c in COUNTRIES if c != home)) if home in COUNTRIES else COUNTRIES


def mobile_number(country: str, number: int) -> str:
    """A valid mobile number of ``country`` (E.164), one per customer ``number`` (< 100,000):
    the country's example mobile with its last five digits varied."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        raise ValueError(f"libphonenumber has no example mobile number for {country}")
    stem = f"+{example.country_code}{str(example.national_number)[:-5]}"
    for attempt in range(100_000):
        candidate = phonenumbers.parse(f"{stem}{(number + attempt) % 100_000:05d}")
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    raise ValueError(f"no valid mobile number near {country}'s example")


def _birth_date(rng: Random, now: datetime) -> date:
    born = now.date() - timedelta(days=rng.randint(18 * 365 + 5, 85 * 365))
    return born.replace(day=min(born.day, 28))


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


def make_customer(rng: Random, number: int, now: datetime, region: str = "GB") -> DemoCustomer:
    country = rng.choices(countries(region), weights=SHARES)[0]
    title = rng.choice((Title.MR, Title.MRS, Title.MS, Title.MX, Title.DR, Title.MISS))
    given, family = rng.choice(NAMES_FOR_TITLE[title]), rng.choice(FAMILY)
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
        phone=mobile_number(country, number),
        country=country,
        address=_address(rng, country),
        date_of_birth=_birth_date(rng, now),
        loyalty_number=f"HM{4_000_000 + number * 13}" if rng.random() < 0.6 else None,
        units=units or ("retail",),
        since=now - timedelta(days=rng.randint(30, 720), seconds=rng.randint(0, 86_399)),
        known_share=rng.choice((0.5, 0.75, 0.9, 1.0)),
    )
