"""``touchlog audiences check``: a valid file is listed, a wrong one named by path (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from touchlog.cli import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "audiences" / "marketing.yaml"


def test_check_lists_a_valid_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audiences", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "paris-gardeners" in out
    assert "4 audiences, valid" in out


def test_check_names_each_mistake_by_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "audiences.yaml"
    wrong.write_text(json.dumps({"audiences": [{"name": "a", "channels": ["web"]}]}))
    assert main(["audiences", "check", str(wrong)]) == 2
    assert f"{wrong}: audiences.0.channels.0: Input should be" in capsys.readouterr().err
