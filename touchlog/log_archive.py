"""The embedded broker's log, kept on disk: one append-only file per topic-partition.

The embedded Tansu broker stores records in memory only (DESIGN.md, "Local and
production infrastructure"); ``touchlog up`` copies every record it acknowledges
into this archive (``log_tail``) and produces them back into a fresh broker on the
next start (``log_restore``), so offsets, keys, timestamps and headers survive.

Layout under ``$TOUCHLOG_DATA_DIR/log/``: ``manifest.json`` (topic → partitions,
written before any record of a topic) and ``<topic>/<partition>.records``, one frame
per record (``log_records``). Offsets in a file are
contiguous from 0 — a record's offset is its position — and appends refuse a gap.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import structlog

from touchlog.log_records import ArchivedRecord, decode, encode, frames, offset_of

log = structlog.get_logger()

TopicPartition = tuple[str, int]

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")  # Kafka's legal names: safe as a directory


class ArchiveError(Exception):
    """The archive cannot be used as it is; the message says why and what to do."""


class ArchiveInUse(ArchiveError):
    """Another process holds the archive."""


class ArchiveGap(ArchiveError):
    """A record arrived whose offset is past the next one expected: the broker skipped some."""


class _PartitionFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.next_offset = 0
        self._out: BinaryIO | None = None

    def scan(self) -> None:
        """Count the records; cut a torn last frame (a crash mid-append), refuse other damage."""
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        with self.path.open("rb") as file:
            for start, body in frames(file):
                if body is None:
                    # A crash mid-append leaves a short frame, or zeros where the file
                    # system had grown the file but not yet written it.
                    last = file.tell() >= size
                    file.seek(start)
                    if not last and file.read().strip(b"\0"):
                        raise ArchiveError(f"{self.path}: damaged record at byte {start}")
                    log.warning("log_archive_torn_tail", path=str(self.path), dropped=size - start)
                    os.truncate(self.path, start)
                    return
                if (offset := offset_of(body)) != self.next_offset:
                    raise ArchiveError(f"{self.path}: offset {offset} at record {self.next_offset}")
                self.next_offset += 1

    def append(self, records: Iterable[ArchivedRecord], tp: TopicPartition) -> int:
        frames: list[bytes] = []
        try:
            for record in records:
                if record.offset < self.next_offset + len(frames):
                    continue  # archived already: a re-fetch after a reassignment or a restart
                if record.offset > (expected := self.next_offset + len(frames)):
                    log.error(
                        "log_archive_gap",
                        topic=tp[0],
                        partition=tp[1],
                        expected=expected,
                        offset=record.offset,
                    )
                    raise ArchiveGap(
                        f"{tp[0]}[{tp[1]}]: offset {record.offset} follows {expected - 1}; the "
                        "records in between are missing, a restore could not keep the offsets"
                    )
                frames.append(encode(record))
        finally:
            self._write(frames)  # the records before a gap are good: keep them
        return len(frames)

    def _write(self, frames: list[bytes]) -> None:
        if not frames:
            return
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("ab")
        self._out.write(b"".join(frames))
        self._out.flush()
        os.fsync(self._out.fileno())
        self.next_offset += len(frames)

    def records(self) -> Iterator[ArchivedRecord]:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            for _, body in frames(file):
                if body is None:
                    raise ArchiveError(f"{self.path}: damaged record")
                yield decode(body)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


class LogArchive:
    """The archived topics of one data directory. ``append`` may run in a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._topics: dict[str, int] = {}
        self._files: dict[TopicPartition, _PartitionFile] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: Path) -> LogArchive:
        archive = cls(root)
        manifest = root / "manifest.json"
        if manifest.exists():
            archive._topics = {str(t): int(n) for t, n in json.loads(manifest.read_text()).items()}
        for topic, partitions in archive._topics.items():
            for partition in range(partitions):
                archive._file((topic, partition)).scan()
        return archive

    def topics(self) -> dict[str, int]:
        """topic → partitions."""
        return dict(self._topics)

    def next_offset(self, tp: TopicPartition) -> int:
        """The number of records archived, and the offset of the next one."""
        with self._lock:
            return self._file(tp).next_offset

    def record_count(self) -> int:
        with self._lock:
            return sum(f.next_offset for f in self._files.values())

    def size_bytes(self) -> int:
        return sum(f.path.stat().st_size for f in self._files.values() if f.path.exists())

    def add_topic(self, topic: str, partitions: int) -> None:
        """Remember a topic (or its new partitions) before any of its records."""
        if not _TOPIC_NAME.fullmatch(topic) or topic in (".", ".."):
            raise ArchiveError(f"topic name {topic!r} cannot be archived")
        with self._lock:
            if self._topics.get(topic, 0) >= partitions:
                return
            self._topics[topic] = partitions
            self.root.mkdir(parents=True, exist_ok=True)
            staged = self.root / "manifest.json.new"
            with staged.open("w") as out:
                json.dump(self._topics, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            staged.replace(self.root / "manifest.json")  # atomic: old or new, never half
        log.info("log_archive_topic_added", topic=topic, partitions=partitions)

    def append(self, batches: Mapping[TopicPartition, Sequence[ArchivedRecord]]) -> int:
        """Append and fsync; records archived already are skipped, a gap raises."""
        with self._lock:
            return sum(self._file(tp).append(records, tp) for tp, records in batches.items())

    def records(self, tp: TopicPartition) -> Iterator[ArchivedRecord]:
        return self._file(tp).records()

    def close(self) -> None:
        with self._lock:
            for file in self._files.values():
                file.close()

    def __enter__(self) -> LogArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _file(self, tp: TopicPartition) -> _PartitionFile:
        if tp not in self._files:
            self._files[tp] = _PartitionFile(self.root / tp[0] / f"{tp[1]}.records")
        return self._files[tp]


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold the archive for one process: two writers would interleave their appends.

    An advisory ``flock``, released by the kernel however the holder ends (SIGKILL
    included); child processes do not inherit it (Python's descriptors are not
    inheritable)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveInUse(
                f"{lock_file} is held by another process (a running `touchlog up`?)"
            ) from None
        yield
    finally:
        os.close(fd)
