"""The embedded broker with its log kept across restarts of ``touchlog up``.

The broker stores records in memory only, while PostgreSQL keeps the read models and
each stage's next offsets; a new broker with an empty log would put new events below
those offsets. So, around the broker's life:

1. a broker a SIGKILLed ``touchlog up`` left running (``broker.json``) is first copied
   into the archive — it may hold acknowledged records the archive has not — then stopped;
2. a new broker starts and the archive is produced back into it, offsets and all,
   before anything else uses it;
3. while it runs, every record it acknowledges is appended to the archive;
4. at a stop, once the caller has stopped producing, the archive catches up to every
   partition's high watermark, then the broker stops.

Consumer groups' committed offsets (in the broker's memory too) are saved at 1. and 4.
and committed again at 2. (``group_offsets``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import structlog
from aiokafka.errors import KafkaError

from touchlog import embedded, group_offsets
from touchlog.log_archive import ArchiveError, ArchiveInUse, LogArchive, exclusive
from touchlog.log_restore import restore
from touchlog.log_tail import catch_up, follow

log = structlog.get_logger()

STOP_CATCH_UP = 60.0  # seconds to archive the last records at a stop (normally a fetch or two)
TAKE_OVER_CATCH_UP = 300.0  # seconds to copy what a left-over broker holds beyond the archive


def archive_dir(data_dir: Path) -> Path:
    return data_dir / "log"


def archive_lock(data_dir: Path) -> Path:
    """Held by the one process using the archive (beside it: a reset removes the archive)."""
    return data_dir / "log.lock"


@contextlib.asynccontextmanager
async def durable_broker(
    data_dir: Path, failed: Callable[[], object]
) -> AsyncIterator[embedded.EmbeddedBroker]:
    """A fresh embedded broker holding the archived log; archived until the caller is done.

    ``failed`` is called if archiving stops working while the broker runs: the caller
    should stop, rather than acknowledge events the next start would not restore."""
    try:
        with exclusive(archive_lock(data_dir)), LogArchive.open(archive_dir(data_dir)) as archive:
            await _take_over_previous(archive, data_dir)
            broker = embedded.start_broker(log_file=data_dir / "broker.log")
            try:
                embedded.record_broker(data_dir, broker, restored=False)
                await restore(archive, broker.bootstrap_servers)
                await group_offsets.restore_commits(archive, broker.bootstrap_servers)
                embedded.record_broker(data_dir, broker, restored=True)
                async with _archiving(archive, broker.bootstrap_servers, failed):
                    yield broker
            finally:
                broker.stop()
                embedded.forget_broker(data_dir)
                log.info("embedded_broker_stopped", archived=archive.record_count())
    except ArchiveInUse as exc:
        raise SystemExit(f"touchlog: {exc}") from exc
    except ArchiveError as exc:
        raise SystemExit(
            f"touchlog: the embedded broker's log archive: {exc}\n"
            f"(`touchlog reset` wipes the embedded data in {data_dir}, after asking)"
        ) from exc


async def _take_over_previous(archive: LogArchive, data_dir: Path) -> None:
    previous = embedded.recorded_broker(data_dir)
    if previous is None:
        return
    if previous.running():
        if previous.restored and previous.answering():
            log.warning(
                "previous_broker_found",
                pid=previous.pid,
                bootstrap_servers=previous.bootstrap_servers,
                action="archiving what it holds, then stopping it",
            )
            await _save_group_offsets(archive, previous.bootstrap_servers)
            await catch_up(archive, previous.bootstrap_servers, within=TAKE_OVER_CATCH_UP)
        else:  # stopped mid-restore: it holds a part of the archive, nothing new
            log.warning("previous_broker_unrestored", pid=previous.pid, action="stopping it")
        previous.stop()
    embedded.forget_broker(data_dir)


async def _save_group_offsets(archive: LogArchive, bootstrap_servers: str) -> None:
    """Before the last catch-up (see ``group_offsets``). Failing, the last saved ones stay:
    older commits only make the triggers app re-read more."""
    try:
        await group_offsets.snapshot(archive, bootstrap_servers)
    except KafkaError:
        log.exception("group_offsets_not_saved", effect="a longer replay at the next start")


@contextlib.asynccontextmanager
async def _archiving(
    archive: LogArchive, bootstrap_servers: str, failed: Callable[[], object]
) -> AsyncIterator[None]:
    stop = asyncio.Event()

    def ended(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("log_archive_failed", error=repr(task.exception()))
            failed()

    tail = asyncio.create_task(follow(archive, bootstrap_servers, stop), name="log-archive")
    tail.add_done_callback(ended)
    try:
        yield
    finally:
        stop.set()
        try:
            await tail  # re-raises its failure, after the catch-up below
        finally:
            await _save_group_offsets(archive, bootstrap_servers)
            copied = await catch_up(archive, bootstrap_servers, within=STOP_CATCH_UP)
            log.info(
                "log_archive_closed",
                records=archive.record_count(),
                last_copied=copied,
                bytes=archive.size_bytes(),
            )
