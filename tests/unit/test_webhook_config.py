"""The webhook subscribers file: a bad one is refused with the subscriber and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.webhooks.config import WebhookConfigError, parse_subscribers
from events.documents import DocumentError
from projections.triggers.model import Audience, Kind
from touchlog.config_files import load

GOOD = {"name": "crm", "url": "https://crm.example.com/hooks", "secret": "x" * 20}


def test_a_good_file_gives_subscribers_and_their_filters(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "- name: crm\n"
        "  url: https://crm.example.com/hooks\n"
        "  secret: a-long-shared-secret\n"
        "  kinds: [marketing]\n"
        "  rules: [cross-sell-tv]\n"
        "- name: desk\n"
        "  url: http://127.0.0.1:9000/in\n"
        "  secret: another-long-secret\n"
        "  audiences: [service, manager]\n"
    )
    crm, desk = load(path, parse_subscribers)
    assert crm.subscription().kinds == {Kind.MARKETING}
    assert crm.subscription().rules == {"cross-sell-tv"}
    assert crm.subscription().audiences is None
    assert desk.subscription().audiences == {Audience.SERVICE, Audience.MANAGER}
    assert "a-long-shared-secret" not in repr(crm)  # never printed in a log


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "not a url"}, r"subscriber 0 \(crm\): url: .*URL"),
        ({"url": "ftp://crm.example.com/x"}, r"subscriber 0 \(crm\): url: URL scheme"),
        ({"secret": "short"}, r"subscriber 0 \(crm\): secret: .*at least 16"),
        ({"secret": " " * 20}, r"subscriber 0 \(crm\): secret: .*must not be blank"),
        ({"kinds": ["sales"]}, r"subscriber 0 \(crm\): kinds\.0: .*'marketing' or 'service'"),
        ({"audiences": ["boss"]}, r"subscriber 0 \(crm\): audiences\.0: "),
        ({"rules": []}, r"subscriber 0 \(crm\): rules: .*at least 1"),
        ({"rules": ["Not A Rule"]}, r"subscriber 0 \(crm\): rules\.0: .*pattern"),
        ({"name": "has spaces"}, r"subscriber 0 \(has spaces\): name: .*pattern"),
        ({"retries": 3}, r"subscriber 0 \(crm\): retries: Extra inputs"),
    ],
)
def test_a_bad_field_is_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(WebhookConfigError, match=message):
        parse_subscribers([{**GOOD, **change}], "webhooks.yaml")


def test_a_missing_field_is_named_and_every_problem_reported() -> None:
    with pytest.raises(WebhookConfigError) as caught:
        parse_subscribers([GOOD, {"name": "desk", "url": "https://d.example.com"}, {}], "w.yaml")
    text = str(caught.value)
    assert text.startswith("w.yaml: ")
    assert "subscriber 1 (desk): secret: Field required" in text
    assert "subscriber 2: name: Field required" in text
    assert "subscriber 2: url: Field required" in text


def test_names_are_unique() -> None:
    with pytest.raises(WebhookConfigError, match="unique: crm"):
        parse_subscribers([GOOD, GOOD])


@pytest.mark.parametrize("data", [{"crm": GOOD}, "crm", 3])
def test_the_file_is_a_list(data: object) -> None:
    with pytest.raises(WebhookConfigError, match="expected a list of subscribers"):
        parse_subscribers(data)


def test_an_empty_file_has_no_subscribers(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text("")
    assert load(path, parse_subscribers) == []


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text("- name: [unclosed\n")
    with pytest.raises(DocumentError, match=r"webhooks\.yaml: not valid YAML"):
        load(path, parse_subscribers)
    with pytest.raises(DocumentError, match="No such file"):
        load(tmp_path / "missing.yaml", parse_subscribers)
