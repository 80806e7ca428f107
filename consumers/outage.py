"""How a stage waits out a service that should come back (PostgreSQL restarting, the
broker paused): retry with backoff, then surface the error."""

from __future__ import annotations

import time


def retry_delay(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling, at most 10 s."""
    return min(0.2 * 2.0**failures, 10.0)


OUTAGE_TOLERANCE_S = 300.0
"""How long a stage waits out an unreachable service before it gives up and surfaces the
error: longer than a database restart or failover, short enough to be noticed."""


class Outage:
    """A run of failures of a service that should come back: the delay before each
    retry, until the run has lasted too long."""

    def __init__(self, tolerance_s: float = OUTAGE_TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s
        self.failures = 0
        self._since: float | None = None

    def failed(self) -> float | None:
        """One more failure: seconds to wait before retrying, or None to give up."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        self.failures += 1
        if now - self._since > self.tolerance_s:
            return None
        return retry_delay(self.failures)

    def lasted(self) -> float:
        return 0.0 if self._since is None else time.monotonic() - self._since

    def ended(self) -> None:
        """A try succeeded: the next failure starts a new run."""
        self.failures, self._since = 0, None
