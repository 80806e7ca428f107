"""A helper process for a stage's CPU-bound, pure work (decoding, parsing).

A stage's event loop runs in one process, and Python runs one thread of Python at a
time: pydantic validation and phone-number parsing of batch N+1 cannot overlap the
resolution and I/O of batch N unless they run in another process. One helper process
per stage process is enough (it only has to keep up with its caller); calls queue.

The function and its arguments must be picklable (a module-level function, plain
data); so must what it returns. A helper that dies (killed, out of memory) is replaced
once per call; a caller that is SIGKILLed takes its helper with it: on Linux the kernel
kills the helper when its parent dies (``PR_SET_PDEATHSIG``), elsewhere it watches its
parent.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from consumers.process import exit_with_parent, tune_gc

log = structlog.get_logger()

R = TypeVar("R")


def _start_helper(parent: int) -> None:
    """Runs in the helper first: the same collector settings as a stage (the helper
    allocates even more per event), and a watch on its parent."""
    tune_gc()
    exit_with_parent(parent)


class HelperProcess:
    """One helper process, started on first use (``spawn``: safe beside an event loop's
    threads), shared by every caller in this process."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_helper,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` in the helper process."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._started()
            try:
                return await loop.run_in_executor(executor, fn, *args)
            except BrokenProcessPool:
                self._replace(executor)
                if attempt == 2:
                    raise
                log.warning("helper_process_replaced", function=fn.__qualname__)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the helper (the next ``run`` starts a new one)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


HELPER = HelperProcess()
"""This process's helper."""
