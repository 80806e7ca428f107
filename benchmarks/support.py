"""What every benchmark needs: a broker, a PostgreSQL server, scratch databases on it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from subprocess import Popen
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from events import Touchpoint
from events.resolved import Resolved
from projections.timeline.postgres import COLUMNS, TABLE, TimelineView
from touchlog import embedded


def spawn(module_args: Sequence[str], env: Mapping[str, str], log: Path) -> Popen[bytes]:
    """``python -m MODULE ARGS…`` in the background, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *module_args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def check_alive(process: Popen[bytes] | None, log: Path, what: str) -> None:
    """Stop the benchmark, with the tail of ``log``, if ``process`` has exited."""
    if process is not None and process.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{what} exited ({process.returncode}):\n{tail}")


def terminate(process: Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def copy_timeline_seconds(
    pool: asyncpg.Pool, events: Sequence[Touchpoint | Resolved], table: str = "copy_bench"
) -> float:
    """Seconds to ``COPY`` the events' timeline rows, 5,000 at a time, into ``table``: a
    new, empty copy of the timeline table, its primary key and index included. The
    physical limit every timeline figure is compared with."""
    rows = TimelineView().changes(events)
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE TABLE {table} (LIKE {TABLE} INCLUDING ALL)")
        started = time.perf_counter()
        for i in range(0, len(rows), 5000):
            await conn.copy_records_to_table(table, records=rows[i : i + 5000], columns=COLUMNS)
        return time.perf_counter() - started


async def scratch_database(server_url: str, prefix: str = "touchlog_bench") -> str:
    """Create an empty database beside ``server_url``'s; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


async def drop_database(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.contextmanager
def infrastructure() -> Iterator[tuple[str, str]]:
    """(bootstrap servers, PostgreSQL server URL): the configured ones
    (``TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``) or embedded ones for the run."""
    with contextlib.ExitStack() as stack:
        bootstrap = (
            os.environ.get("TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS")
            or stack.enter_context(embedded.embedded_broker()).bootstrap_servers
        )
        server_url = os.environ.get("DATABASE_URL") or stack.enter_context(
            embedded.embedded_postgres(Path(tempfile.mkdtemp(prefix="touchlog-bench-")))
        )
        yield bootstrap, server_url


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class CpuShare:
    """Where a phase's CPU went, in cores busy on average: this process, each process it
    started (by name: the resolver's helper, the embedded broker and PostgreSQL), and the
    rest of the machine. Linux only (``/proc``)."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _descendants() -> dict[int, str]:
        parents: dict[int, int] = {}
        names: dict[int, str] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue  # gone meanwhile
            name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
            pid = int(stat.parent.name)
            parents[pid], names[pid] = int(rest.split()[1]), name
            if name.startswith("python") and b"multiprocessing" in _cmdline(pid):
                names[pid] = "helper process"
        family = {os.getpid()}
        found: dict[int, str] = {}
        while True:
            more = {p for p, parent in parents.items() if parent in family and p not in family}
            if not more:
                return found
            family |= more
            found |= {p: names[p] for p in more}

    @staticmethod
    def _cpu_of(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample(self) -> tuple[float, float, dict[int, tuple[str, float]]]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        processes = {os.getpid(): ("this process", self._cpu_of(os.getpid()))}
        processes |= {pid: (name, self._cpu_of(pid)) for pid, name in self._descendants().items()}
        return time.perf_counter(), busy, processes

    def report(self) -> str:
        wall0, busy0, before = self._start
        wall1, busy1, after = self._sample()
        elapsed = wall1 - wall0
        shares: dict[str, float] = {}
        for pid, (name, cpu) in after.items():
            used = (cpu - before.get(pid, (name, 0.0))[1]) / elapsed
            if used >= 0.01:
                shares[name] = shares.get(name, 0.0) + used
        rest = (busy1 - busy0) / elapsed - sum(shares.values())
        parts = [
            f"{name} {share:.2f}" for name, share in sorted(shares.items(), key=lambda x: -x[1])
        ]
        return f"CPU (cores): {', '.join(parts)}, rest of the machine {rest:.2f}"
