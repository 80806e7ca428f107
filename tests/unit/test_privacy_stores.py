"""How a table's ``COMMENT ON TABLE`` classifies it for erasure (privacy/stores.py)."""

from __future__ import annotations

import pytest

from privacy.stores import Classification, parse


def test_a_table_without_personal_data_says_why() -> None:
    assert parse("touchlog:no-personal-data (offsets)") == Classification(False, why="(offsets)")
    with pytest.raises(ValueError, match="needs a reason"):
        parse("touchlog:no-personal-data")


def test_a_personal_table_says_how_rows_are_found_and_erased() -> None:
    found = parse(
        "touchlog:personal customer=subject_key action=anonymise clear=summary "
        "payload=payload:type at=occurred_at"
    )
    assert found.customer == ("subject_key",)
    assert found.action == "anonymise"
    assert found.clear == ("summary",)
    assert found.payload == ("payload", "type")
    assert found.columns() == {"subject_key", "summary", "payload", "type", "occurred_at"}
    assert parse("touchlog:personal customer=a,b").customer == ("a", "b")
    assert parse("touchlog:personal event=source_system:message_id").event == (
        "source_system",
        "message_id",
    )


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        (None, "no classification comment"),
        ("the customers' orders", "is no classification"),
        ("touchlog:personal action=delete", "needs customer=, identifier="),
        ("touchlog:personal customer=c action=shred", "action=shred: expected one of"),
        ("touchlog:personal customer=c action=anonymise", "needs clear=, null= or payload="),
        ("touchlog:personal customer=c colour=red", "unknown option 'colour'"),
        ("touchlog:personal customer", "expected name=value"),
        ("touchlog:personal customer=c payload=p", "expected payload=<column>:<column>"),
    ],
)
def test_a_missing_or_malformed_classification_says_what_is_wrong(
    comment: str | None, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        parse(comment)
