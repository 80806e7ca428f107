"""``touchlog schemas``: list, show, validate, generate, check."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from events import EVENT_TYPES, encode
from producers.demo import demo_events
from tests.unit.event_documents import V1_CALL
from touchlog.cli_schemas import DEFAULT_DIR, register


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="touchlog")
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_list_shows_every_type_with_its_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("schemas", "list") == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(EVENT_TYPES)
    assert any(line.split()[:3] == ["call.logged", "v1,v2", "phone"] for line in lines)


def test_show_prints_the_current_or_a_named_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("schemas", "show", "call.logged") == 0
    assert json.loads(capsys.readouterr().out)["title"] == "call.logged v2"

    assert run("schemas", "show", "call.logged", "--version", "1") == 0
    assert json.loads(capsys.readouterr().out)["x-version"] == 1


@pytest.mark.parametrize("argv", [("nope.nothing",), ("call.logged", "--version", "9")])
def test_show_refuses_what_does_not_exist(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("schemas", "show", *argv) == 2
    assert "touchlog schemas" in capsys.readouterr().err


def test_validate_reports_each_bad_line_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [encode(e).decode() for e in demo_events(1, seed=2)[:5]]
    bad = json.loads(good[0])
    bad["occurred_at"] = "2024-05-01T10:00:00"
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join([*good, json.dumps(bad), json.dumps(V1_CALL), "not json"]) + "\n")

    assert run("schemas", "validate", str(file)) == 1

    out, err = capsys.readouterr()
    assert out.startswith("6 valid, 2 invalid")
    assert f"{file}:line 6: occurred_at: Input should have timezone info" in err
    assert f"{file}:line 8: (line): not valid JSON" in err


def test_validate_passes_a_clean_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "events.jsonl"
    file.write_text(json.dumps(V1_CALL) + "\n")

    assert run("schemas", "validate", str(file)) == 0
    assert capsys.readouterr().out == "1 valid, 0 invalid (call.logged 1)\n"


def test_check_passes_on_the_checked_in_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("schemas", "check") == 0
    assert "contracts match the models" in capsys.readouterr().out


def test_generate_then_check_on_a_fresh_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("schemas", "check", "--dir", str(tmp_path)) == 1
    assert run("schemas", "generate", "--dir", str(tmp_path)) == 0
    assert run("schemas", "check", "--dir", str(tmp_path)) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")) == sorted(
        p.relative_to(DEFAULT_DIR).as_posix() for p in DEFAULT_DIR.rglob("*.json")
    )


def test_generate_and_check_refuse_an_incompatible_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "schemas"
    shutil.copytree(DEFAULT_DIR, root)
    published = root / "sms.sent" / "v1.json"
    contract = json.loads(published.read_text())
    body = contract["$defs"]["SmsPayload"]["properties"]["body"]["anyOf"][0]  # [clear, sealed]
    body["maxLength"] = 5000  # the model now says 1600
    published.write_text(json.dumps(contract))

    assert run("schemas", "check", "--dir", str(root)) == 1
    assert (
        "incompatible: payload.body: maxLength tightened from 5000 to 1600"
        in capsys.readouterr().err
    )
    assert run("schemas", "generate", "--dir", str(root)) == 1
    assert json.loads(published.read_text()) == contract
