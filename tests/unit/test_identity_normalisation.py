"""Normalisation: one phone number written twenty ways, emails, external ids, identifier keys."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from projections.identity import (
    Identifier,
    IdentifierKind,
    IdentityRules,
    Rejected,
    normalise,
    normalise_email,
    normalise_external_id,
    normalise_phone,
)

MOBILE = "+33628230455"
LONDON = "+442079460018"

FRENCH_MOBILE_WRITTEN_IN_FRANCE = [
    "06 28 23 04 55",
    "06.28.23.04.55",
    "06-28-23-04-55",
    "06/28/23/04/55",
    "0628230455",
    " 06 28 23 04 55 ",
    "(06) 28 23 04 55",
    "6 28 23 04 55",
    "+33628230455",
    "+33 6 28 23 04 55",
    "+33 (0)6 28 23 04 55",
    "+33(0)628230455",
    "+33.6.28.23.04.55",
    "+33 628 230 455",
    "+ 33 6 28 23 04 55",
    "(+33) 6 28 23 04 55",
    "0033 6 28 23 04 55",
    "0033628230455",
    "0033 (0)6 28 23 04 55",
    "33 6 28 23 04 55",
    "\t06 28 23 04 55\n",
]

# From the UK, a French number needs its country code; the national form is someone else's.
FRENCH_MOBILE_WRITTEN_IN_BRITAIN = [
    "+33 6 28 23 04 55",
    "+33 (0)6 28 23 04 55",
    "0033 6 28 23 04 55",
    "0033 (0)6 28 23 04 55",
    "(+33) 6 28 23 04 55",
]

LONDON_NUMBER_WRITTEN_IN_BRITAIN = [
    "020 7946 0018",
    "(020) 7946 0018",
    "020-7946-0018",
    "02079460018",
    "+44 20 7946 0018",
    "+44 (0)20 7946 0018",
    "0044 20 7946 0018",
]


@pytest.mark.parametrize("written", FRENCH_MOBILE_WRITTEN_IN_FRANCE)
def test_a_french_mobile_written_any_usual_way_in_france_is_one_number(written: str) -> None:
    assert normalise_phone(written, "FR") == MOBILE


@pytest.mark.parametrize("written", FRENCH_MOBILE_WRITTEN_IN_BRITAIN)
def test_a_french_mobile_with_its_country_code_is_the_same_number_from_britain(
    written: str,
) -> None:
    assert normalise_phone(written, "GB") == MOBILE


@pytest.mark.parametrize("written", LONDON_NUMBER_WRITTEN_IN_BRITAIN)
def test_a_london_number_in_uk_formats_is_one_number(written: str) -> None:
    assert normalise_phone(written, "GB") == LONDON


@pytest.mark.parametrize("written", ["+44 20 7946 0018", "0044 20 7946 0018", "+44(0)2079460018"])
def test_a_london_number_with_its_country_code_is_the_same_number_from_france(
    written: str,
) -> None:
    assert normalise_phone(written, "FR") == LONDON


@pytest.mark.parametrize(
    ("written", "region"),
    [
        ("06 28 23 04 55", "GB"),  # a French national form means nothing in the UK
        ("020 7946 0018", "FR"),  # nor a UK one in France
    ],
)
def test_a_national_form_is_read_in_the_default_region_only(written: str, region: str) -> None:
    assert normalise_phone(written, region) is None


@pytest.mark.parametrize(
    "written",
    [
        "",
        "   ",
        "06 28 23 04 5",  # a digit short
        "06 28 23 04 55 5",  # a digit long
        "+33 6 28",
        "+999 6 28 23 04 55",  # no such country code
        "1-800-FLOWERS",  # letters are not read as a keypad
        "06 28 23 04 55 ext 12",
        "06 28 23 04 55; 07 11 22 33 44",
        "null",
        "+33 6 28 23 04 55 #",
    ],
)
def test_what_is_not_a_valid_number_is_refused(written: str) -> None:
    assert normalise_phone(written, "FR") is None


@pytest.mark.parametrize(
    "written",
    [
        "ann.lee@example.com",
        "Ann.Lee@Example.COM",
        "  ann.lee@example.com\n",
        "ANN.LEE@EXAMPLE.COM ",
    ],
)
def test_emails_are_trimmed_and_lower_cased(written: str) -> None:
    assert normalise_email(written) == "ann.lee@example.com"


@pytest.mark.parametrize(
    "written",
    ["", "ann", "ann@", "@example.com", "ann@example", "ann lee@example.com", "a@b@c.com"],
)
def test_what_is_not_an_email_is_refused(written: str) -> None:
    assert normalise_email(written) is None


def test_external_ids_lower_case_their_type_and_keep_the_case_of_the_id() -> None:
    assert normalise_external_id(" Loyalty ", " L9x ") == "loyalty:L9x"
    assert normalise_external_id("loyalty", " ") is None
    assert normalise_external_id("a:b", "L9") is None  # the key would be ambiguous


@pytest.mark.parametrize(
    ("kind", "written", "value"),
    [
        (IdentifierKind.CUSTOMER_ID, " C-1 ", "C-1"),
        (IdentifierKind.EMAIL, " Ann@X.com", "ann@x.com"),
        (IdentifierKind.PHONE, "06 28 23 04 55", MOBILE),
        (IdentifierKind.EXTERNAL_ID, "Loyalty: L9", "loyalty:L9"),
        (IdentifierKind.EXTERNAL_ID, "crm:A:7", "crm:A:7"),
        (IdentifierKind.ANONYMOUS_ID, "dev-1 ", "dev-1"),
        (IdentifierKind.ANONYMOUS_ID, "  ", None),
    ],
)
def test_normalise_dispatches_on_the_kind(
    kind: IdentifierKind, written: str, value: str | None
) -> None:
    assert normalise(kind, written, "FR") == value


@pytest.mark.parametrize(
    ("identifier", "key"),
    [
        (Identifier(IdentifierKind.CUSTOMER_ID, "C-1"), "customer_id:C-1"),
        (Identifier(IdentifierKind.EMAIL, "ann@x.com"), "email:ann@x.com"),
        (Identifier(IdentifierKind.PHONE, MOBILE), "phone:+33628230455"),
        (Identifier(IdentifierKind.EXTERNAL_ID, "loyalty:L9"), "external_id:loyalty:L9"),
        (Identifier(IdentifierKind.ANONYMOUS_ID, "dev-1"), "anonymous_id:dev-1"),
    ],
)
def test_a_key_names_the_kind_and_parses_back(identifier: Identifier, key: str) -> None:
    assert identifier.key == key
    assert Identifier.parse(key) == identifier


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("ann@x.com", "expected '<kind>:<value>'"),
        ("mail:ann@x.com", "expected '<kind>:<value>'"),
        ("email:", "blank"),
        ("email:Ann@X.com", "lower-case"),
        ("phone:06 28 23 04 55", "E.164"),
        ("external_id:L9", "'type:id'"),
        ("external_id:Loyalty:L9", "'type:id'"),
        ("anonymous_id: dev-1", "whitespace"),
    ],
)
def test_a_malformed_key_is_refused_with_the_reason(key: str, message: str) -> None:
    with pytest.raises(ValueError, match="is not an identifier key") as caught:
        Identifier.parse(key)
    assert message in str(caught.value)


def test_an_identifier_cannot_hold_an_unnormalised_value() -> None:
    with pytest.raises(ValueError, match="not a normalised email"):
        Identifier(IdentifierKind.EMAIL, "Ann@X.com")


def test_identifiers_sort_by_priority() -> None:
    kinds = [
        IdentifierKind.ANONYMOUS_ID,
        IdentifierKind.PHONE,
        IdentifierKind.CUSTOMER_ID,
        IdentifierKind.EXTERNAL_ID,
        IdentifierKind.EMAIL,
    ]
    values = {
        IdentifierKind.CUSTOMER_ID: "C-1",
        IdentifierKind.EMAIL: "ann@x.com",
        IdentifierKind.PHONE: MOBILE,
        IdentifierKind.EXTERNAL_ID: "loyalty:L9",
        IdentifierKind.ANONYMOUS_ID: "dev-1",
    }
    ordered = sorted(Identifier(kind, values[kind]) for kind in kinds)
    assert [i.kind.prefix for i in ordered] == [
        "customer_id",
        "email",
        "phone",
        "external_id",
        "anonymous_id",
    ]


def _phonenumbers_reading(written: str, region: str) -> str | None:
    """The oracle: phonenumbers itself, given the written form as it is."""
    try:
        number = phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _written_variants(rng: random.Random, digits: str) -> str:
    """``digits`` (maybe with a leading +) split at random points by random punctuation,
    sometimes with a trunk prefix in brackets or a misplaced plus."""
    out = []
    for i, c in enumerate(digits):
        if i and rng.random() < 0.4:
            out.append(rng.choice([" ", ".", "-", "/", "(", ")", "  ", ") ", " ("]))
        out.append(c)
    written = "".join(out)
    roll = rng.random()
    if roll < 0.1:
        written = written.replace("+33", "+33 (0)", 1)
    elif roll < 0.15:
        written = written[:3] + "+" + written[3:]
    elif roll < 0.2:
        written = "(" + written + ")"
    return written


def test_numbers_written_with_any_punctuation_read_as_phonenumbers_reads_them() -> None:
    """Parsing is shared by written forms that dial the same (punctuation removed): the
    outcome must be phonenumbers' reading of each written form, valid or not."""
    rng = random.Random(7)
    numbers = ["+33628230455", "0628230455", "0033628230455", "+442079460018", "02079460018"]
    numbers += ["+3314000000", "0140000000", "+1 2025550123", "12025550123", "0612", "+999123"]
    numbers += [f"0{rng.randrange(10**8, 10**9)}" for _ in range(40)]
    seen = 0
    for number in numbers:
        for _ in range(25):
            written = _written_variants(rng, number.replace(" ", ""))
            for region in ("FR", "GB", "US"):
                assert normalise_phone(written, region) == _phonenumbers_reading(
                    written.strip(), region
                ), (written, region)
                seen += 1
    assert seen > 3000


def test_a_number_phonenumbers_accepts_beyond_15_digits_is_no_phone() -> None:
    # Valid for phonenumbers' German metadata, yet longer than E.164 allows: once, it
    # reached ``Identifier`` and stopped the resolver (found by test_schema_instances).
    written = "+49353060122525153"
    assert phonenumbers.is_valid_number(phonenumbers.parse(written))
    assert normalise_phone(written, "FR") is None
    assert isinstance(IdentityRules().identifier(IdentifierKind.PHONE, written), Rejected)
