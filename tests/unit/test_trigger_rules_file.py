"""The trigger rules file is validated at start, with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.documents import DocumentError
from projections.triggers import DEFAULT_RULES, RulesError, parse_rules
from touchlog.config_files import load


def test_a_valid_file_loads_every_rule_type(tmp_path: Path) -> None:
    path = tmp_path / "triggers.yaml"
    path.write_text(
        "frequency_cap: {max: 3, per_days: 10}\n"
        "rules:\n"
        "  - {name: a, type: cross_sell, bought: x, offer: y, within_days: 5}\n"
        "  - {name: b, type: service_reminder, days_before: 7}\n"
        "  - {name: c, type: complaint_escalation}\n"
        "  - {name: d, type: re_engagement, min_views: 2}\n"
        "  - {name: e, type: survey_follow_up}\n"
        "  - {name: f, type: vip, threshold: 100}\n"
        "  - {name: g, type: lapse_risk, silent_days: 30}\n"
    )
    rules = load(path, parse_rules)
    assert [r.type for r in rules.rules] == [
        "cross_sell",
        "service_reminder",
        "complaint_escalation",
        "re_engagement",
        "survey_follow_up",
        "vip",
        "lapse_risk",
    ]
    assert rules.frequency_cap.max == 3


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            [{"name": "a", "type": "cross_sell", "bought": "x"}],
            "rules.0.cross_sell.offer: Field required",
        ),
        ([{"name": "a", "type": "teleport"}], "rules.0: Input tag 'teleport' found using 'type'"),
        (
            [{"name": "a", "type": "vip", "threshold": -5}],
            "rules.0.vip.threshold: Input should be greater than 0",
        ),
        (
            [{"name": "Bad Name!", "type": "survey_follow_up"}],
            "rules.0.survey_follow_up.name: String should match",
        ),
        (
            [
                {"name": "a", "type": "survey_follow_up"},
                {"name": "a", "type": "vip", "threshold": 1},
            ],
            "two rules are named 'a'",
        ),
        (
            [{"name": "a", "type": "complaint_escalation", "sla_hours": {"low": 1}}],
            "missing: critical, high, medium",
        ),
        (
            [{"name": "a", "type": "lapse_risk", "silent_dayz": 3}],
            "rules.0.lapse_risk.silent_dayz: Extra inputs",
        ),
    ],
)
def test_each_mistake_is_named(rules: list[dict[str, object]], expected: str) -> None:
    with pytest.raises(RulesError, match=r"triggers\.yaml: ") as caught:
        parse_rules({"rules": rules}, "triggers.yaml")
    assert expected in str(caught.value)


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "triggers.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(RulesError, match="expected a mapping with 'rules:', got list"):
        load(path, parse_rules)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"nope\.yaml: cannot read: No such file"):
        load(tmp_path / "nope.yaml", parse_rules)


def test_the_built_in_rules_cover_every_type() -> None:
    assert len({r.type for r in DEFAULT_RULES.rules}) == 7
