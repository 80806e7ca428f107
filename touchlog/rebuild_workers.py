"""A rebuild by several processes: its runners spread over the cores, by partition.

One process parses, opens and decodes one batch at a time. A rebuild with ``workers`` > 1
splits the partitions into that many shares — round-robin, per topic — and runs the
view's runners on the first share itself and on each other share in a worker process
(``python -m touchlog.rebuild_worker``: a fresh interpreter, no fork of a running event
loop). All write the same version's tables and offsets, as a live stage's replicas share
a consumer group's partitions. The rebuild holds the version's exclusive lock for all of
them (``VersionedCheckpoints.lock_held_by_rebuild``) and watches their progress in
PostgreSQL, as it watches a rebuild by one process.

Why the first share runs in the rebuild's own process: a worker spends some 0.7 s of CPU
importing touchlog before it applies anything, and the rebuild's process would otherwise
sit idle, watching.

The identity resolver is never split: it reads every partition interleaved by record time,
and a merge joins customers of any partitions (docs/DEPLOY.md, "the single resolver").

A worker stops at a batch boundary, its offsets committed, on SIGTERM (or SIGINT: Ctrl-C
reaches the whole process group). One that outlives ``STOP_GRACE_S`` is killed; one whose
parent dies is killed by the kernel (``consumers.process.exit_with_parent``). Either way
the rebuild resumes from the stored offsets.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import structlog

from touchlog import bootstrap, kafka_security
from touchlog.settings import Settings

log = structlog.get_logger()

STOP_GRACE_S = 30.0
"""How long a worker may take to finish its batch in flight once asked to stop."""


class WorkerFailed(RuntimeError):
    """A worker process of a rebuild exited before the rebuild was done, or not cleanly."""


def worker_count(view: str, partitions: Mapping[str, Sequence[int]], asked: int | None) -> int:
    """How many processes rebuild ``view``: ``asked`` (default: the machine's cores), no
    more than the partitions of its largest topic, and one for identity."""
    if view == "identity":
        return 1
    wanted = asked if asked is not None else os.cpu_count() or 1
    most = max((len(ps) for ps in partitions.values()), default=1)
    return max(1, min(wanted, most))


def shares(partitions: Mapping[str, Sequence[int]], workers: int) -> list[dict[str, list[int]]]:
    """Each worker's partitions: every ``workers``-th one of each topic (none empty)."""
    split = [
        {
            topic: list(ps[number::workers])
            for topic, ps in partitions.items()
            if ps[number::workers]
        }
        for number in range(workers)
    ]
    return [share for share in split if share]


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """What a worker process runs; sent pickled on its stdin."""

    number: int
    parent: int
    settings: Settings
    endpoints: bootstrap.Endpoints
    """Without Kafka's security options: an SSL context does not pickle (see ``secured``)."""
    secured: bool
    """The worker builds the Kafka security options again from ``settings``."""
    view: str
    version: int
    identity: int
    partitions: dict[str, list[int]]

    def endpoints_here(self) -> bootstrap.Endpoints:
        if not self.secured:
            return self.endpoints
        return replace(
            self.endpoints, kafka_security=kafka_security.aiokafka_options(self.settings)
        )

    def describe(self) -> str:
        shared = "; ".join(f"{t} {', '.join(map(str, ps))}" for t, ps in self.partitions.items())
        return f"{self.view} v{self.version}'s worker {self.number} (partitions of {shared})"


def jobs(
    settings: Settings,
    endpoints: bootstrap.Endpoints,
    view: str,
    version: int,
    identity: int,
    partitions: Mapping[str, Sequence[int]],
    workers: int,
) -> list[WorkerJob]:
    """A job per share of the ``partitions``: the first for this process, the others
    for worker processes."""
    plain = replace(endpoints, kafka_security={})
    return [
        WorkerJob(
            number,
            os.getpid(),
            settings,
            plain,
            bool(endpoints.kafka_security),
            view,
            version,
            identity,
            share,
        )
        for number, share in enumerate(shares(partitions, workers), start=1)
    ]


async def start(job: WorkerJob, stop: asyncio.Event) -> asyncio.Task[None]:
    """Start ``job``'s process; the task it returns stops it once ``stop`` is set, and
    fails if it exits before then, or not cleanly (it kills it if cancelled)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "touchlog.rebuild_worker", stdin=asyncio.subprocess.PIPE
    )
    supervised = asyncio.create_task(_supervise(process, job, stop), name=job.describe())
    assert process.stdin is not None  # noqa: S101  (opened as a pipe above)
    process.stdin.write(pickle.dumps(job))
    try:
        await process.stdin.drain()
        process.stdin.close()
    except ConnectionError:  # it exited at once: its exit code, in the task, says why
        pass
    except BaseException:  # cancelled: leave no process behind
        process.kill()
        supervised.cancel()
        raise
    log.info(
        "rebuild_worker_started", worker=job.number, pid=process.pid, partitions=job.partitions
    )
    return supervised


async def _supervise(
    process: asyncio.subprocess.Process, job: WorkerJob, stop: asyncio.Event
) -> None:
    exited = asyncio.ensure_future(process.wait())
    try:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not exited.done():
            process.terminate()  # it finishes its batch in flight and commits its offsets
            try:
                async with asyncio.timeout(STOP_GRACE_S):
                    await asyncio.shield(exited)
            except TimeoutError:
                log.warning("rebuild_worker_killed", worker=job.number, grace_s=STOP_GRACE_S)
                process.kill()
                await exited
    finally:
        if process.returncode is None:  # cancelled: leave no process behind
            process.kill()
    if not stop.is_set():
        raise WorkerFailed(
            f"{job.describe()} stopped before the rebuild was done (exit code {process.returncode})"
        )
    # Asked to stop while still starting, before its handler was in place: it had no
    # batch in flight (and a batch is one transaction anyway).
    if process.returncode not in (0, -signal.SIGTERM):
        raise WorkerFailed(f"{job.describe()} exited with code {process.returncode}")
