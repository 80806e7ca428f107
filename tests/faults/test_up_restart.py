"""Issue 11, "The embedded default keeps its log across restarts": ``touchlog up`` on the
embedded broker (memory only) stopped — by Ctrl-C, or by SIGKILL — and started again keeps
every acknowledged event in the views and projects the new ones, each exactly once.

Each run is a real ``touchlog up`` process on a fresh data dir and database; events are
published with the SDK to the broker its banner names. ``touchlog reset`` is driven
against the same data: refused while ``up`` runs, then wiping archive and tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from producers import Publisher
from tests.factories import random_events
from tests.integration.conftest import master_key, new_database, server_url  # noqa: F401
from tests.waiting import eventually, eventually_sync
from touchlog import embedded

pytestmark = pytest.mark.integration

START_S = 60.0  # broker, restore, tables, API: seconds to the banner
PROJECTED_S = 90.0  # a first consumer group join on the embedded broker takes ~5 s


class Up:
    """One ``touchlog up`` (no demo) in its own process group, so that whatever it starts
    and leaves behind when SIGKILLed (the faust worker) can be found and stopped."""

    def __init__(self, data_dir: Path, database_url: str, run: int) -> None:
        self.output = data_dir.parent / f"up-{run}.out"
        env = {k: v for k, v in os.environ.items() if k != "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS"}
        env |= {
            "TOUCHLOG_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "TOUCHLOG_API_PORT": str(embedded.free_port()),
            "TOUCHLOG_GATEWAY_PORT": str(embedded.free_port()),
            "TOUCHLOG_LOG_LEVEL": "info",
            "TOUCHLOG_LOG_FORMAT": "json",
        }
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "touchlog.cli", "up"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def events(self) -> list[str]:
        return [json.loads(line)["event"] for line in self.text().splitlines() if line[:1] == "{"]

    def bootstrap(self) -> str:
        """The broker address from the banner, once up."""

        def banner() -> re.Match[str] | None:
            assert self.process.poll() is None, f"touchlog up ended:\n{self.text()[-4000:]}"
            return re.search(r"Kafka bootstrap\s+(\S+)", self.text())

        found = eventually_sync(banner, bool, timeout=START_S, what="touchlog up's banner")
        assert found is not None
        return found.group(1)

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=90)

    def live_processes(self) -> list[str]:
        """Processes of its group still running (zombies aside): pid and command."""
        return [
            f"{pid} {_command(pid)}"
            for pid in _group_members(self.process.pid)
            if embedded.process_running(pid)
        ]

    def kill_group(self) -> None:
        for process in self.live_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(process.split()[0]), signal.SIGKILL)


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return "(ended)"


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def runs(data_dir: Path) -> Iterator[list[Up]]:
    """Every ``touchlog up`` a test starts; whatever is left of them is killed at the end."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()
        up.kill_group()
    if (broker := embedded.recorded_broker(data_dir)) is not None and broker.running():
        broker.stop()


async def _publish(bootstrap: str, prefix: str, count: int) -> set[str]:
    events = random_events(count, subjects=count // 3, seed=len(prefix), prefix=prefix)
    async with Publisher(bootstrap, idempotence=False) as publisher:
        await publisher.publish_many(events)
    return {e.message_id for e in events}


async def _timeline(database_url: str) -> Counter[str]:
    """message_id → rows in the timeline."""
    conn = await asyncpg.connect(database_url)
    try:
        if await conn.fetchval("SELECT to_regclass('timeline_v1')") is None:
            return Counter()
        rows = await conn.fetch("SELECT message_id, count(*) AS n FROM timeline_v1 GROUP BY 1")
    finally:
        await conn.close()
    return Counter({r["message_id"]: r["n"] for r in rows})


async def _projected(up: Up, database_url: str, expected: set[str]) -> None:
    """Every expected event in the timeline, exactly once, and no other."""

    async def timeline() -> Counter[str]:
        assert up.process.poll() is None, f"touchlog up ended:\n{up.text()[-4000:]}"
        return await _timeline(database_url)

    rows = await eventually(
        timeline,
        lambda rows: set(rows) >= expected,
        timeout=PROJECTED_S,
        what=f"{len(expected)} events in the timeline",
    )
    assert set(rows) == expected
    assert set(rows.values()) == {1}, "an event appears more than once"


def _reset(
    data_dir: Path, database_url: str, *args: str, answer: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS"}
    env |= {"TOUCHLOG_DATA_DIR": str(data_dir), "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "touchlog.cli", "reset", *args],
        env=env,
        input=answer,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_ctrl_c_then_up_again_keeps_every_event_and_reset_wipes_it_all(
    new_database: Callable[[], Awaitable[str]],  # noqa: F811
    data_dir: Path,
    runs: list[Up],
) -> None:
    database_url = await new_database()
    runs.append(first := Up(data_dir, database_url, 1))
    before = await _publish(first.bootstrap(), "before-", 300)
    await _projected(first, database_url, before)
    assert first.stop(signal.SIGINT) == 0, first.text()[-4000:]
    assert "log_archive_closed" in first.events()

    runs.append(second := Up(data_dir, database_url, 2))
    after = await _publish(second.bootstrap(), "after-", 200)
    assert "log_restored" in second.events(), "the archived log was produced back"
    await _projected(second, database_url, before | after)

    refused = _reset(data_dir, database_url, "--yes")
    assert refused.returncode == 1
    assert f"pid {second.process.pid}" in refused.stderr
    assert (data_dir / "log" / "manifest.json").exists(), "nothing wiped while up runs"
    assert second.stop(signal.SIGINT) == 0, second.text()[-4000:]

    declined = _reset(data_dir, database_url, answer="n\n")
    assert declined.returncode == 1
    assert re.search(r"touchlog's \d+ tables in .*timeline_v1", declined.stdout)
    assert "Nothing wiped." in declined.stdout
    assert len(await _timeline(database_url)) == 500

    wiped = _reset(data_dir, database_url, "--yes")
    assert wiped.returncode == 0, wiped.stdout + wiped.stderr
    assert not (data_dir / "log").exists()
    assert await _timeline(database_url) == Counter(), "the views go with the log"


async def test_sigkill_then_up_again_archives_what_the_old_broker_held(
    new_database: Callable[[], Awaitable[str]],  # noqa: F811
    data_dir: Path,
    runs: list[Up],
) -> None:
    database_url = await new_database()
    runs.append(first := Up(data_dir, database_url, 1))
    bootstrap = first.bootstrap()
    before = await _publish(bootstrap, "before-", 300)
    await _projected(first, database_url, before)
    # Acknowledged, then killed at once: the tail may not have archived them yet.
    unarchived = await _publish(bootstrap, "killed-", 200)
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    old_broker = embedded.recorded_broker(data_dir)
    assert old_broker is not None
    assert old_broker.running(), "the broker runs in its own session: it outlives up"

    runs.append(second := Up(data_dir, database_url, 2))
    after = await _publish(second.bootstrap(), "after-", 200)
    assert "previous_broker_found" in second.events()
    assert not old_broker.running(), "archived, then stopped"
    await _projected(second, database_url, before | unarchived | after)
    assert second.stop(signal.SIGINT) == 0, second.text()[-4000:]
    # Its children end with it (the resolver's helper may take a moment after it).
    eventually_sync(second.live_processes, lambda pids: pids == [], timeout=15, what="no strays")

    # Whatever of the first run outlived its SIGKILL (the faust worker, unless it exits
    # with its parent) is stopped here, not left to the next test.
    first.kill_group()
    eventually_sync(first.live_processes, lambda pids: pids == [], timeout=10, what="no strays")
    assert embedded.recorded_broker(data_dir) is None, "the second run's broker stopped"
