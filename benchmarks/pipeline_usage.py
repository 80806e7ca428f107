"""CPU and RSS of each process of a ``benchmarks.pipeline`` run (psutil), by role."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil


@dataclass
class Usage:
    """One role's processes over a phase: CPU seconds used and RSS seen."""

    cpu_s: float = 0.0
    rss_first: int = 0  # bytes, summed over the role's processes, first sample
    rss_last: int = 0
    rss_max: int = 0


@dataclass
class ProcessUsage:
    """Samples the processes ``roles`` names (pid → role, asked again at each sample, so
    that processes started meanwhile are counted) between ``start`` and ``stop``."""

    roles: Callable[[], dict[int, str]]
    _cpu: dict[int, tuple[str, float, float]] = field(default_factory=dict)  # first, last
    _rss: dict[str, list[int]] = field(default_factory=dict)
    _began: float = 0.0
    elapsed: float = 0.0

    def start(self) -> None:
        self._cpu.clear()
        self._rss.clear()
        self._began = time.perf_counter()
        self.sample()

    def sample(self) -> None:
        rss: dict[str, int] = {}
        for pid, role in self.roles().items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                with process.oneshot():
                    times = process.cpu_times()
                    used = times.user + times.system
                    rss[role] = rss.get(role, 0) + process.memory_info().rss
                first = self._cpu.get(pid, (role, used, used))[1]
                self._cpu[pid] = (role, first, used)
        for role, total in rss.items():
            self._rss.setdefault(role, []).append(total)
        self.elapsed = time.perf_counter() - self._began

    def usage(self) -> dict[str, Usage]:
        found: dict[str, Usage] = {}
        for role, first, last in self._cpu.values():
            found.setdefault(role, Usage()).cpu_s += last - first
        for role, samples in self._rss.items():
            usage = found.setdefault(role, Usage())
            usage.rss_first, usage.rss_last, usage.rss_max = samples[0], samples[-1], max(samples)
        return found


def pipeline_roles(up_pid: int | None, database: str) -> dict[int, str]:
    """pid → role: ``touchlog up`` and its children (the resolver's helper, the faust
    worker), this process and the broker it started, and the PostgreSQL backends
    connected to the run's database."""
    roles = {os.getpid(): "benchmark (SDK publisher, pollers)"}
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.name().startswith("tansu"):
                    roles[child.pid] = "broker (embedded Tansu)"
    if up_pid is not None:
        with contextlib.suppress(psutil.Error):
            up = psutil.Process(up_pid)
            roles[up_pid] = "touchlog up: stages, API, gateway"
            for child in up.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    line = " ".join(child.cmdline())
                    if "triggers" in line:
                        roles[child.pid] = "faust triggers worker"
                    elif "multiprocessing" in line:
                        roles[child.pid] = "identity helper process"
                    else:
                        roles[child.pid] = "touchlog up: other child"
    for process in psutil.process_iter(["name", "cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and f" {database} " in line:
            roles[process.pid] = "PostgreSQL (the run's backends)"
    return roles
