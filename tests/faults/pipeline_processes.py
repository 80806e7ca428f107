"""The pipeline as users run it — each stage its own process, in consumer groups — and the
services it runs on that a fault suite may break: its own broker and its own PostgreSQL.

Positions are read as an operator would: the offsets each stage stored with its view,
the faust app's committed offsets, and high watermarks from a fetch (the embedded
broker's ListOffsets answer undercounts, see DESIGN.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from consumers import checkpoints
from touchlog import embedded

PARTITIONS = 6
TOUCHLOG = [sys.executable, "-m", "touchlog.cli"]


class StageProcess:
    """One ``touchlog`` command in its own process; every run appends to one log file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._run_began = 0  # where the latest run's output starts in the log

    def start(self, **env: str) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n=== {self.name}: start {self.starts} ===\n".encode())
            out.flush()
            self._run_began = out.tell()
            self.process = subprocess.Popen(
                [*TOUCHLOG, *self.args],
                env=self.env | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals meant for the test runner are not theirs
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_code(self) -> int | None:
        """The code it exited with, None while it runs (or before it started)."""
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Ask it to stop; its exit code (killed, and an error raised, past ``timeout``)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(
                    f"{self.name} did not stop within {timeout}s of {sig.name}:\n{self.tail()}"
                ) from None
        return self.process.returncode

    def tail(self, chars: int = 2500) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-chars:]}"

    def latest_output(self) -> str:
        """What the latest run has written so far."""
        with self.log.open("rb") as log:
            log.seek(self._run_began)
            return log.read().decode(errors="replace")


# --- positions -----------------------------------------------------------------------------


async def high_watermarks(
    bootstrap: str,
    topic: str,
    partitions: int = PARTITIONS,
    timeout: float = 30.0,  # noqa: ASYNC109  # a deadline for polling, not for one call
) -> dict[int, int]:
    """Each partition's end, as the high watermark of a fetch reports it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)  # near the end (ListOffsets undercounts)
        deadline = time.monotonic() + timeout
        while any(consumer.highwater(tp) is None for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"no high watermark of {topic} within {timeout}s")
            await consumer.getmany(*tps, timeout_ms=100)
        return {tp.partition: consumer.highwater(tp) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def group_committed(
    bootstrap: str, group: str, topic: str, partitions: int = PARTITIONS
) -> dict[int, int] | None:
    """Offsets a consumer group committed to Kafka (the faust app's position), read by a
    consumer of the group that never joins it; None while the coordinator cannot answer
    (a rebalance in progress)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {
            p: (await consumer.committed(TopicPartition(topic, p))) or 0 for p in range(partitions)
        }
    except KafkaError:
        return None
    finally:
        await consumer.stop()


async def stored_offsets(pool: asyncpg.Pool, consumer: str, topic: str) -> dict[int, int] | None:
    """Offsets a stage stored with its view; None while its database cannot answer."""
    try:
        return await checkpoints.stored_offsets(pool, consumer, topic)
    except asyncpg.UndefinedTableError:
        return {}
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None


def behind(position: Mapping[int, int] | None, ends: Mapping[int, int]) -> int:
    """Records of ``ends`` not yet behind ``position`` (all of them when it is unknown)."""
    if position is None:
        return sum(ends.values())
    return sum(max(0, end - position.get(p, 0)) for p, end in ends.items())


# --- a PostgreSQL the suite may stop ---------------------------------------------------------


@dataclass
class PrivatePostgres:
    """An embedded PostgreSQL (pgserver) owned by one test: stopped and started again on the
    same socket, never the machine's server."""

    data_dir: Path
    url: str = ""
    restarted: bool = False

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[PrivatePostgres]:
        # Outside pytest's root-private tmp dir: the server runs as an unprivileged user.
        data_dir = Path(tempfile.mkdtemp(prefix="touchlog-faults-pg-"))
        server = cls(data_dir)
        try:
            with embedded.embedded_postgres(data_dir) as url:
                server.url = url
                try:
                    yield server
                finally:
                    if server.restarted:  # pgserver stops only the process it started
                        server._pg_ctl("-m", "fast", "stop", check=False)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    @property
    def socket_dir(self) -> str:
        return parse_qs(urlsplit(self.url).query)["host"][0]

    def stop(self) -> None:
        """Shut down at once: connections end, new ones are refused."""
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        """Start again on the same socket."""
        self.restarted = True
        self._pg_ctl(
            "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.data_dir / "log"), "start"
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args],
            check=False,
            capture_output=True,
            timeout=90,
            # pgserver runs the server as its own user when started by root
            user="pgserver" if os.geteuid() == 0 else None,
        )
        if check and done.returncode != 0:
            log = (self.data_dir / "log").read_text(errors="replace")[-2000:]
            raise AssertionError(
                f"pg_ctl {' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')}\n{log}"
            )


async def wait_for_database(
    url: str,
    timeout: float = 60.0,  # noqa: ASYNC109  # a deadline for polling, not for one call
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"PostgreSQL at {url} not back within {timeout}s") from exc
            await asyncio.sleep(0.2)
        else:
            await conn.close()
            return
