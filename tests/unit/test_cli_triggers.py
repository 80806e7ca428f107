"""``touchlog triggers check`` and the worker's start: a bad rules file is refused, named."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchlog.cli import main


def test_check_lists_the_rules_of_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: vip, type: vip, threshold: 100}\n")
    assert main(["triggers", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "vip" in out
    assert f"{path}: 1 rules, valid" in out


def test_check_names_each_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: vip, type: vip}\n")
    assert main(["triggers", "check", str(path)]) == 2
    assert "rules.0.vip.threshold: Field required" in capsys.readouterr().err


def test_the_worker_refuses_to_start_on_a_bad_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: a, type: cross_sell, bought: x}\n")
    monkeypatch.setenv("TOUCHLOG_TRIGGER_RULES", str(path))
    monkeypatch.setenv("TOUCHLOG_DATA_DIR", str(tmp_path))
    assert main(["triggers", "worker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("touchlog triggers: ")
    assert "rules.0.cross_sell.offer: Field required" in err
