"""The helper process a stage hands its CPU-bound parsing to (real processes, no services)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from consumers.helper_process import HelperProcess


def _pid() -> int:
    return os.getpid()


def _die_once(marker: str) -> int:
    """Kills the helper the first time (as the OOM killer would), answers the second."""
    if not Path(marker).exists():
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def _until(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.005)


async def test_work_runs_in_another_process_which_is_kept() -> None:
    helper = HelperProcess()
    try:
        first = await helper.run(_pid)
        assert first != os.getpid()
        assert await helper.run(_pid) == first
    finally:
        helper.close()
    assert not _alive(first)


async def test_a_helper_that_dies_is_replaced_and_the_call_answered(tmp_path: Path) -> None:
    helper = HelperProcess()
    try:
        before = await helper.run(_pid)
        after = await helper.run(_die_once, str(tmp_path / "died"))
        assert (tmp_path / "died").exists()
        assert after != before
    finally:
        helper.close()


async def test_exceptions_in_the_helper_reach_the_caller() -> None:
    helper = HelperProcess()
    try:
        with pytest.raises(ZeroDivisionError):
            await helper.run(divmod, 1, 0)
    finally:
        helper.close()


def test_a_sigkilled_caller_takes_its_helper_with_it_within_100_ms(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, os, sys, time
        from consumers.helper_process import HELPER

        async def main():
            print(await HELPER.run(os.getpid), flush=True)
            time.sleep(600)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    (tmp_path / "caller.py").write_text(script)
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, str(tmp_path / "caller.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its resource tracker's complaint about the kill
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    ) as caller:
        assert caller.stdout is not None
        helper_pid = int(caller.stdout.readline())
        assert _alive(helper_pid)
        caller.send_signal(signal.SIGKILL)
        caller.wait(timeout=10)
        _until(lambda: not _alive(helper_pid), timeout=0.1)  # issue 11: within 100 ms
