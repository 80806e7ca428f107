"""One archived record and its framing on disk.

A frame is ``u32 length, u32 crc32, body``; the body is ``i64 offset, i64 timestamp,
i8 timestamp type``, then key and value (``i32`` length, -1 for null, bytes), then a
``u16`` header count and each header's name and value in the same form. The crc tells
a frame cut short by a crash from a whole one.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

Header = tuple[str, bytes | None]

_FRAME = struct.Struct(">II")  # body length, crc32 of the body
_FIXED = struct.Struct(">qqb")  # offset, timestamp (ms), timestamp type
_LENGTH = struct.Struct(">i")  # -1: null
_COUNT = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    offset: int
    timestamp: int  # ms since the epoch
    timestamp_type: int  # 0: create time, 1: log append time
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]


def _blob(data: bytes | None) -> bytes:
    return _LENGTH.pack(-1) if data is None else _LENGTH.pack(len(data)) + data


def encode(record: ArchivedRecord) -> bytes:
    parts = [
        _FIXED.pack(record.offset, record.timestamp, record.timestamp_type),
        _blob(record.key),
        _blob(record.value),
        _COUNT.pack(len(record.headers)),
    ]
    for name, value in record.headers:
        parts += (_blob(name.encode()), _blob(value))
    body = b"".join(parts)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def decode(body: bytes) -> ArchivedRecord:
    offset, timestamp, timestamp_type = _FIXED.unpack_from(body)
    at = _FIXED.size

    def blob() -> bytes | None:
        nonlocal at
        (size,) = _LENGTH.unpack_from(body, at)
        at += _LENGTH.size
        if size < 0:
            return None
        at += size
        return body[at - size : at]

    key, value = blob(), blob()
    (count,) = _COUNT.unpack_from(body, at)
    at += _COUNT.size
    headers = tuple(((blob() or b"").decode(), blob()) for _ in range(count))
    return ArchivedRecord(offset, timestamp, timestamp_type, key, value, headers)


def frames(file: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(frame start, body) per frame; body None for a frame cut short or failing its crc."""
    while True:
        start = file.tell()
        head = file.read(_FRAME.size)
        if not head:
            return
        if len(head) < _FRAME.size:
            yield start, None
            return
        size, crc = _FRAME.unpack(head)
        body = file.read(size)
        whole = len(body) == size >= _FIXED.size and zlib.crc32(body) == crc
        yield start, body if whole else None


def offset_of(body: bytes) -> int:
    offset: int = _FIXED.unpack_from(body)[0]
    return offset
