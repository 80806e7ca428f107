"""What every benchmark needs: a broker, a PostgreSQL server, scratch databases on it."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from touchlog import embedded


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


class CpuShare:
    """Where a phase's CPU went: this process vs the rest of the machine (broker, PostgreSQL,
    anything else running), in cores busy on average. Linux only (``/proc/stat``)."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields) - fields[3] - fields[4]) / ticks  # all but idle and iowait
        own = os.times()
        return time.perf_counter(), busy, own.user + own.system

    def report(self) -> str:
        wall0, busy0, own0 = self._start
        wall1, busy1, own1 = self._sample()
        elapsed = wall1 - wall0
        own = (own1 - own0) / elapsed
        rest = (busy1 - busy0) / elapsed - own
        return f"CPU: this process {own:.2f} cores, rest of the machine {rest:.2f} cores"
