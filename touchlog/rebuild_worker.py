"""One worker process of a rebuild: ``python -m touchlog.rebuild_worker``, started by
``touchlog/rebuild_workers.py`` with its job pickled on stdin.

It runs the view's runners on its share of the partitions until SIGTERM or SIGINT, then
stops at a batch boundary, its offsets committed, and exits 0. It takes no lock on the
version: the rebuild that started it holds it, and the kernel kills this process if that
one dies, so that no worker writes a version nobody holds.
"""

from __future__ import annotations

import asyncio
import pickle
import signal
import sys

import structlog

from consumers.process import exit_with_parent, tune_gc
from projections.db import create_pool
from touchlog import rebuilds
from touchlog.logs import configure_logging
from touchlog.rebuild_workers import WorkerJob

log = structlog.get_logger()

POOL_SIZE = 4
"""A batch in flight per runner (the trigger store has two), and its offsets' reads."""


async def work(job: WorkerJob) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    endpoints = job.endpoints_here()
    structlog.contextvars.bind_contextvars(rebuild_worker=job.number)
    pool = await create_pool(endpoints.database_url, min_size=1, max_size=POOL_SIZE)
    try:
        runners = rebuilds.share_runners(
            job.settings, endpoints, pool, job.view, job.version, job.identity, job.partitions
        )
        async with asyncio.TaskGroup() as group:  # one runner failing stops the others
            for runner in runners:
                group.create_task(runner.run(stop), name=f"{runner.name} {runner.config.topic}")
    finally:
        await pool.close()


def main() -> None:
    # The job comes from the rebuild that started this process, on a pipe only it writes.
    job: WorkerJob = pickle.load(sys.stdin.buffer)  # noqa: S301
    exit_with_parent(job.parent)
    configure_logging(job.settings.log_format, job.settings.log_level)
    tune_gc()
    asyncio.run(work(job))


if __name__ == "__main__":
    main()
