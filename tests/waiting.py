"""Wait on a condition with a deadline — never sleep as synchronisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 60.0,  # noqa: ASYNC109  # a deadline for polling, not for one call
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``done(result)``; fail with the last result at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} not reached within {timeout}s; last value: {_brief(result)}"
            )
        await asyncio.sleep(interval)


def eventually_sync(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float = 60.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """``eventually`` for synchronous probes (e.g. a subprocess driven over HTTP)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} not reached within {timeout}s; last value: {_brief(result)}"
            )
        time.sleep(interval)


def _brief(value: object, limit: int = 2000) -> str:
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} items)" if isinstance(value, list | dict | set | tuple) else ""
    return f"{text[:limit]}…{size}"
