"""``touchlog reset``: says what it wipes, asks (``--yes`` does not), refuses while
``touchlog up`` runs on the data dir. Embedded data only here (no ``DATABASE_URL``); the
tables of a configured database are in ``tests/faults/test_up_restart.py``."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from touchlog.cli import main
from touchlog.durable_broker import archive_lock
from touchlog.log_archive import exclusive


@pytest.fixture(autouse=True)
def _logging_as_before() -> Iterator[None]:
    """The command configures structlog to print to the stderr pytest captures, which is
    closed after the test: later tests would log into it."""
    before = structlog.get_config()
    yield
    structlog.configure(**before)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What a stopped ``touchlog up`` on the embedded defaults leaves."""
    monkeypatch.setenv("TOUCHLOG_DATA_DIR", str(tmp_path))
    for name in ("DATABASE_URL", "TOUCHLOG_DATABASE_URL", "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "log" / "touchlog.touchpoints").mkdir(parents=True)
    (tmp_path / "log" / "manifest.json").write_text('{"touchlog.touchpoints": 1}')
    (tmp_path / "log" / "touchlog.touchpoints" / "0.records").write_bytes(b"x" * 2_000_000)
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "PG_VERSION").write_text("16\n")
    (tmp_path / "triggers" / "v1").mkdir(parents=True)
    return tmp_path


def _wiped(data_dir: Path) -> dict[str, bool]:
    return {name: not (data_dir / name).exists() for name in ("log", "postgres", "triggers")}


def _answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])  # "": no terminal, end of input
def test_it_lists_what_it_would_wipe_and_wipes_nothing_without_a_yes(
    data_dir: Path,
    answer: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _answer(monkeypatch, answer)
    assert main(["reset"]) == 1
    out = capsys.readouterr().out
    assert f"the broker's log archive {data_dir / 'log'} (2.0 MB)" in out
    assert f"the embedded PostgreSQL and all its data {data_dir / 'postgres'}" in out
    assert f"the triggers app's local state {data_dir / 'triggers'}" in out
    assert "Wipe all of this? [y/N]" in out
    assert _wiped(data_dir) == {"log": False, "postgres": False, "triggers": False}


def test_yes_wipes_the_embedded_data(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(monkeypatch, "y\n")
    assert main(["reset"]) == 0
    assert "Wiped." in capsys.readouterr().out
    assert _wiped(data_dir) == {"log": True, "postgres": True, "triggers": True}


def test_the_yes_flag_wipes_without_asking(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(monkeypatch, "")  # reading it would fail
    assert main(["reset", "--yes"]) == 0
    assert "[y/N]" not in capsys.readouterr().out
    assert _wiped(data_dir) == {"log": True, "postgres": True, "triggers": True}
    assert main(["reset", "--yes"]) == 0
    assert "nothing to wipe" in capsys.readouterr().out


def test_it_refuses_while_touchlog_up_runs_on_the_data_dir(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "endpoints.json").write_text(json.dumps({"pid": os.getpid()}))
    assert main(["reset", "--yes"]) == 1
    assert f"`touchlog up` is running on {data_dir} (pid {os.getpid()})" in capsys.readouterr().err
    assert _wiped(data_dir) == {"log": False, "postgres": False, "triggers": False}


def test_it_refuses_while_the_log_archive_is_held(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``touchlog up`` still restoring has written no endpoints yet, but holds the archive."""
    with exclusive(archive_lock(data_dir)):
        assert main(["reset", "--yes"]) == 1
    assert "held by another process" in capsys.readouterr().err
    assert _wiped(data_dir) == {"log": False, "postgres": False, "triggers": False}


def test_a_stale_endpoints_file_of_a_killed_run_does_not_block_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "endpoints.json").write_text(json.dumps({"pid": 2**22 + 1}))  # no such pid
    assert main(["reset", "--yes"]) == 0
    assert not (data_dir / "endpoints.json").exists()
