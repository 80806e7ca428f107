"""The demo believable: valid phones, one person per identifier, balances, ages, titles."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import phonenumbers
import pytest

from events import Touchpoint, encode
from events.touchpoints import (
    ProfileUpdated,
    RewardsEarned,
    RewardsRedeemed,
    SurveyResponded,
    Title,
)
from producers.demo import demo_events
from producers.demo.cast import FEMININE, MASCULINE
from producers.demo.complaints import age_band
from producers.demo.identity import identifiers_of

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["FR", "GB"])
def region(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def events(region: str) -> list[Touchpoint]:
    return demo_events(300, now=NOW, region=region)


def _person_of(events: list[Touchpoint]) -> dict[str, str]:
    """Each event's demo customer, by its customer_id or an identifier seen with one before."""
    owner: dict[object, str] = {}
    person = {}
    for e in events:
        keys = identifiers_of(e.subject)
        if e.subject.customer_id:
            person[e.message_id] = e.subject.customer_id
            for key in keys:
                owner.setdefault(key, e.subject.customer_id)
        elif known := [owner[k] for k in keys if k in owner]:
            person[e.message_id] = known[0]
    return person


def test_every_phone_is_valid_most_in_the_region(events: list[Touchpoint], region: str) -> None:
    written = {e.subject.phone for e in events if e.subject.phone} | {
        phone.number
        for e in events
        if isinstance(e, ProfileUpdated)
        for phone in e.payload.phones or ()
    }
    numbers = [phonenumbers.parse(phone) for phone in written]

    assert len(written) > 300
    assert all(phonenumbers.is_valid_number(n) for n in numbers)
    in_region = sum(phonenumbers.is_valid_number_for_region(n, region) for n in numbers)
    assert in_region > len(numbers) / 2


def test_every_identifier_is_first_seen_with_its_customer(events: list[Touchpoint]) -> None:
    """An event whose identifiers no earlier event tied to a customer would be a fragment."""
    person = _person_of(events)

    assert [e for e in events if e.message_id not in person] == []


def test_rewards_balances_never_go_negative(events: list[Touchpoint]) -> None:
    balances: defaultdict[str, int] = defaultdict(int)
    redeemed = 0
    for e in events:
        if isinstance(e, RewardsEarned):
            balances[e.payload.member_number] += e.payload.points
        elif isinstance(e, RewardsRedeemed):
            balances[e.payload.member_number] -= e.payload.points
            redeemed += 1
            assert balances[e.payload.member_number] >= 0, e.payload.member_number

    assert redeemed > 10


def test_age_bands_fit_dates_of_birth(events: list[Touchpoint]) -> None:
    person = _person_of(events)
    born: dict[str, date] = {}
    for e in events:
        if isinstance(e, ProfileUpdated) and e.payload.date_of_birth:
            assert born.setdefault(person[e.message_id], e.payload.date_of_birth) == (
                e.payload.date_of_birth
            ), "one date of birth per person"
    surveys = [e for e in events if isinstance(e, SurveyResponded) and e.payload.age_band]

    assert len(surveys) > 20
    for survey in surveys:
        who = person[survey.message_id]
        if who in born:
            assert survey.payload.age_band == age_band(born[who], survey.occurred_at.date())


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        (date(2000, 6, 2), date(2025, 6, 1), "18_24"),
        (date(2000, 6, 1), date(2025, 6, 1), "25_34"),
        (date(1960, 1, 1), date(2026, 1, 1), "65_plus"),
        (date(1999, 1, 1), date(2026, 1, 1), "25_34"),
    ],
)
def test_age_band_counts_birthdays(born: date, on: date, band: str) -> None:
    assert age_band(born, on).value == band


def test_names_fit_their_titles(events: list[Touchpoint]) -> None:
    names = [e.payload.name for e in events if isinstance(e, ProfileUpdated) and e.payload.name]
    fits = {Title.MR: MASCULINE, Title.MRS: FEMININE, Title.MS: FEMININE, Title.MISS: FEMININE}

    assert len(names) >= 300
    assert {n.title for n in names} >= set(fits)
    for name in names:
        if name.title in fits:
            assert name.given_name in fits[name.title], name


def test_deterministic_for_a_seed_and_region(region: str) -> None:
    first = [encode(e) for e in demo_events(30, now=NOW, region=region)]

    assert first == [encode(e) for e in demo_events(30, now=NOW, region=region)]
    assert first != [encode(e) for e in demo_events(30, seed=8, now=NOW, region=region)]
