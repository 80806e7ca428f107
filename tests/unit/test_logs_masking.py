"""Logs hold no personal data in clear, and no terminal escape codes when redirected."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from consumers import runner as runner_module
from consumers.memory import MemoryCheckpoints, MemoryLog, MemoryReader, MemoryWriter
from consumers.runner import ProjectionRunner, RunnerConfig
from projections.timeline.memory import MemoryTimeline
from tests.factories import event_dict
from touchlog.logs import configure_logging

EMAIL, PHONE, NAME = "ann.lee@example.com", "+33 6 12 34 56 78", "Annabel Leeward"
IN_CLEAR = (EMAIL, "ann.lee", PHONE, "612345678", "+33612345678", "Annabel", "Leeward")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The real processors, into a buffer (a fresh logger for the runner: structlog caches
    a module's logger on first use)."""
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    monkeypatch.setattr(runner_module, "log", structlog.get_logger())
    yield out
    structlog.reset_defaults()


def _fail(exc: Exception) -> None:
    raise exc


def _assert_masked(text: str) -> None:
    assert text.strip(), "something was logged"
    for clear in IN_CLEAR:
        assert clear not in text, f"{clear!r} in clear:\n{text}"


async def test_a_dead_lettered_event_logs_no_personal_data(captured: io.StringIO) -> None:
    poison = event_dict("call.logged")
    poison["subject"] = {"email": EMAIL, "phone": PHONE, "full_name": NAME}
    poison["payload"]["duration_seconds"] = f"call {EMAIL} on {PHONE}"
    memory = MemoryLog()
    memory.create_topic("touchpoints", 1)
    memory.create_topic("deadletters", 1)
    memory.append("touchpoints", b"k", json.dumps(poison).encode())
    config = RunnerConfig("memory", "touchpoints", "deadletters", "group", partitions=[0])
    runner = ProjectionRunner(
        config, MemoryTimeline(), MemoryCheckpoints(), MemoryReader(memory), MemoryWriter(memory)
    )
    await runner.prepare()
    await runner.apply_batch(memory.records("touchpoints", 0))

    assert runner.dead_lettered == 1
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert "event_dead_lettered" in {line["event"] for line in lines}
    _assert_masked(captured.getvalue())


def test_identifiers_names_and_exception_messages_are_masked(captured: io.StringIO) -> None:
    log = structlog.get_logger()
    log.info(
        "identity_not_matched",
        identifier=f"email:{EMAIL}",
        others=[f"phone:{PHONE.replace(' ', '')}", {"given_name": "Annabel", "name": NAME}],
        **{f"seen_{EMAIL}": True},
        family_name="Leeward",
        phone=PHONE,
    )
    try:
        _fail(ValueError(f"no customer for {EMAIL} / {PHONE} ({{'full_name': '{NAME}'}})"))
    except ValueError:
        log.exception("lookup_failed", customer_id="cust-1")

    text = captured.getvalue()
    _assert_masked(text)
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["identifier"] == "email:a***@example.com"
    assert first["phone"].endswith("78")
    assert first["family_name"] == "L."
    assert second["customer_id"] == "cust-1", "what is not personal stays readable"
    assert "ValueError" in second["exception"]


@pytest.mark.parametrize("fmt", ["console", None])
def test_output_to_a_file_holds_no_escape_codes(fmt: str | None) -> None:
    out = io.StringIO()  # not a terminal
    configure_logging(fmt, "info", stream=out)
    try:
        log = structlog.get_logger()
        try:
            _fail(RuntimeError("boom"))
        except RuntimeError:
            log.exception("something_failed", consumer="timeline")
        log.warning("batch_failed_retrying", attempt=2)
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert "something_failed" in text
    assert "batch_failed_retrying" in text
    assert "\x1b[" not in text
    if fmt is None:  # not a terminal: JSON
        assert [json.loads(line)["event"] for line in text.splitlines()] == [
            "something_failed",
            "batch_failed_retrying",
        ]
