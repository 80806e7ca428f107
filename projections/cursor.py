"""Where the next page of a newest-first listing starts: the last row of a page, as an
opaque token the API hands out and takes back."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

_SEPARATOR = "\x1f"
# Far inside what PostgreSQL and Python both hold, whatever the offset: a cursor outside
# (which this API never hands out) cannot reach the database.
_EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
_LATEST = datetime(9998, 1, 1, tzinfo=UTC)


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True, init=False)
class Cursor:
    """The ordering columns of a page's last row: its time, then the keys that break ties
    (e.g. source system and message id). The next page is older than it."""

    at: datetime
    keys: tuple[str, ...]

    def __init__(self, at: datetime, *keys: str) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "keys", keys)

    def encode(self) -> str:
        raw = _SEPARATOR.join((self.at.isoformat(), *self.keys))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, *keys = raw.split(_SEPARATOR)
            cursor = cls(datetime.fromisoformat(at), *keys)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursor("not a cursor returned by this API") from exc
        if not cursor._storable():
            raise InvalidCursor("not a cursor returned by this API")
        return cursor

    def _storable(self) -> bool:
        """An aware time PostgreSQL holds, and keys without NUL (as every cursor handed
        out has)."""
        return (
            self.at.tzinfo is not None
            and _EARLIEST <= self.at < _LATEST
            and not any("\x00" in key for key in self.keys)
        )

    def ties(self, count: int) -> tuple[str, ...]:
        """The tie-breaking keys, ``InvalidCursor`` unless there are ``count`` of them (a
        cursor from another listing)."""
        if len(self.keys) != count:
            raise InvalidCursor("not a cursor returned by this API")
        return self.keys
