"""Rules: the blocklist, shared numbers, limits as configured, and a subject's identifiers."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from events import ExternalId, Subject
from projections.identity import (
    DEFAULT_BLOCKLIST,
    Identifier,
    IdentifierKind,
    IdentityRules,
    Rejected,
    identifiers_of,
    limit_group,
)

EMAIL, PHONE, EXTERNAL = IdentifierKind.EMAIL, IdentifierKind.PHONE, IdentifierKind.EXTERNAL_ID


def subject(external_ids: tuple[tuple[str, str], ...] = (), **fields: Any) -> Subject:
    """A subject as written by a channel; construction skips the envelope's own checks."""
    externals = tuple(ExternalId(type=t, id=i) for t, i in external_ids)
    return Subject.model_construct(external_ids=externals, **fields)


@pytest.mark.parametrize(
    ("pattern", "junk"),
    [
        (r"^[0-]*$", "0"),
        (r"^[0-]*$", "0000-0000"),
        (r"^[0-]*$", ""),
        (r"^-1$", "-1"),
        (r"^null$", "NULL"),
        (r"^none$", "None"),
        (r"^anonymous$", "Anonymous"),
        (r"^unknown$", "unknown"),
        (r"^n/?a$", "N/A"),
        (r"^n/?a$", "na"),
        (r"^test@test\.com$", "Test@Test.com"),
    ],
)
def test_each_default_pattern_blocks_its_junk_in_any_case(pattern: str, junk: str) -> None:
    assert pattern in DEFAULT_BLOCKLIST
    reason = IdentityRules(blocklist=(pattern,)).blocked(IdentifierKind.ANONYMOUS_ID, junk, None)
    assert reason is not None
    assert pattern in reason


def test_the_blocklist_is_matched_against_the_normalised_value_too() -> None:
    rules = IdentityRules(blocklist=(r"^ann@x\.com$",))
    assert rules.blocked(EMAIL, " ANN@X.COM ", "ann@x.com") is not None


def test_the_blocklist_leaves_real_values_alone() -> None:
    rules = IdentityRules()
    assert rules.blocked(EMAIL, "ann@x.com", "ann@x.com") is None
    assert rules.blocked(PHONE, "06 28 23 04 55", "+33628230455") is None
    assert rules.blocked(IdentifierKind.CUSTOMER_ID, "C-100", "C-100") is None


def test_junk_in_every_field_of_a_subject_is_rejected_with_a_reason() -> None:
    found, rejected = identifiers_of(
        subject(
            customer_id="null",
            email="TEST@test.com ",
            phone="00-00",
            external_ids=(("loyalty", "0000"), ("crm", "N/A")),
            anonymous_id="anonymous",
        ),
        IdentityRules(),
    )
    assert found == []
    assert [r.identifier_kind for r in rejected] == [
        IdentifierKind.CUSTOMER_ID,
        EMAIL,
        PHONE,
        EXTERNAL,
        EXTERNAL,
        IdentifierKind.ANONYMOUS_ID,
    ]
    assert all(r.reason.startswith("blocklisted") for r in rejected)
    assert rejected[3].raw == "loyalty:0000"


@pytest.mark.parametrize(
    "written", ["01 40 00 00 00", "+33 1 40 00 00 00", "0033140000000", "01.40.00.00.00"]
)
def test_a_shared_switchboard_number_is_rejected_however_it_is_written(written: str) -> None:
    rules = IdentityRules(shared_numbers=("+33 (0)1 40 00 00 00",))
    assert rules.shared_numbers == ("+33140000000",)
    found, rejected = identifiers_of(subject(phone=written, email="ann@x.com"), rules)
    assert found == [Identifier(EMAIL, "ann@x.com")]
    assert rejected == [Rejected(PHONE, written, "shared number +33140000000 (e.g. a switchboard)")]


def test_a_shared_number_that_is_not_a_number_fails_validation_naming_it() -> None:
    with pytest.raises(ValidationError, match="shared number '01 40' is not a valid phone number"):
        IdentityRules(shared_numbers=("01 40",))


def test_an_unparseable_value_is_rejected_as_invalid() -> None:
    _, rejected = identifiers_of(subject(email="ann(at)x.com", phone="06 28"), IdentityRules())
    assert [(r.raw, r.reason) for r in rejected] == [
        ("ann(at)x.com", "not a valid email"),
        ("06 28", "not a valid phone"),
    ]


def test_a_subjects_identifiers_come_normalised_deduplicated_in_priority_order() -> None:
    found, rejected = identifiers_of(
        subject(
            anonymous_id="dev-1",
            external_ids=(("Loyalty", " L9"), ("loyalty", "L9"), ("crm", "7")),
            phone="06 28 23 04 55",
            email=" Ann@X.com",
            customer_id="C-1",
        ),
        IdentityRules(),
    )
    assert rejected == []
    assert [i.key for i in found] == [
        "customer_id:C-1",
        "email:ann@x.com",
        "phone:+33628230455",
        "external_id:crm:7",
        "external_id:loyalty:L9",
        "anonymous_id:dev-1",
    ]


def test_a_national_number_is_read_in_the_configured_region() -> None:
    found, _ = identifiers_of(subject(phone="020 7946 0018"), IdentityRules(default_region="gb"))
    assert [i.key for i in found] == ["phone:+442079460018"]


def test_rules_answer_for_a_single_written_value() -> None:
    rules = IdentityRules(shared_numbers=("01 40 00 00 00",))
    assert rules.identifier(PHONE, "06.28.23.04.55") == Identifier(PHONE, "+33628230455")
    assert isinstance(rules.identifier(PHONE, "01 40 00 00 00"), Rejected)
    assert rules.identifier(EXTERNAL, "Loyalty:L9") == Identifier(EXTERNAL, "loyalty:L9")


def test_limits_load_from_yaml_by_name_over_the_defaults() -> None:
    rules = IdentityRules.model_validate(
        yaml.safe_load("default_region: GB\nmax_customers:\n  Phone: 4\n  anonymous_id: 9\n")
    )
    assert rules.limit(PHONE) == 4
    assert rules.limit(IdentifierKind.ANONYMOUS_ID) == 9
    assert rules.limit(EMAIL) == IdentityRules().limit(EMAIL) == 2
    assert rules.limit(IdentifierKind.CUSTOMER_ID) is None


def test_per_customer_limits_default_as_in_segment_unify() -> None:
    rules = IdentityRules()
    assert rules.per_customer_limit(EMAIL) == 1
    assert rules.per_customer_limit(PHONE) == 3
    assert rules.per_customer_limit(EXTERNAL) == 1
    assert rules.per_customer_limit(IdentifierKind.ANONYMOUS_ID) == 10
    assert rules.per_customer_limit(IdentifierKind.CUSTOMER_ID) is None


def test_per_customer_limits_load_from_yaml_by_name_over_the_defaults() -> None:
    rules = IdentityRules.model_validate(
        yaml.safe_load("max_per_customer:\n  EMAIL: 2\n  external_id: 3\n")
    )
    assert rules.per_customer_limit(EMAIL) == 2
    assert rules.per_customer_limit(EXTERNAL) == 3
    assert rules.per_customer_limit(PHONE) == 3
    assert rules.limit(EMAIL) == 2  # the per-identifier limits are untouched


@pytest.mark.parametrize(
    ("key", "group"),
    [
        ("email:ann@x.com", (EMAIL, "")),
        ("phone:+33628230455", (PHONE, "")),
        ("external_id:retail_customer_no:R1:x", (EXTERNAL, "retail_customer_no")),
        ("anonymous_id:dev:1", (IdentifierKind.ANONYMOUS_ID, "")),
        ("fax:123", None),
    ],
)
def test_per_customer_limits_count_external_ids_per_type(
    key: str, group: tuple[IdentifierKind, str] | None
) -> None:
    assert limit_group(key) == group


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_per_customer": {"fax": 2}}, "'fax' is not an identifier kind"),
        ({"max_per_customer": {"Customer_ID": 1}}, "customer_id is authoritative"),
        ({"max_per_customer": {"phone": 0}}, "the per-customer limit of phone must be at least 1"),
        ({"max_customers": {"fax": 2}}, "'fax' is not an identifier kind"),
        ({"max_customers": {"customer_id": 2}}, "customer_id is authoritative"),
        ({"max_customers": {"email": 0}}, "at least 1"),
        ({"default_region": "XX"}, "'XX' is not a region"),
        ({"blocklist": ["("]}, "'(' is not a regex"),
        ({"blocklist": [], "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_fail_validation_saying_why(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        IdentityRules.model_validate(settings)


def test_rules_are_frozen() -> None:
    with pytest.raises(ValidationError):
        IdentityRules().default_region = "GB"  # type: ignore[misc]
