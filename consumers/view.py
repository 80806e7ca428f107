"""What the projection runner needs from a view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from projections.db import Connection


class Unapplicable(Exception):  # names what happened to the event
    """Raised by a view for an event it cannot apply (dead-lettered with this reason)."""


class View(Protocol):
    """A PostgreSQL-backed projection: its tables, and how a batch of events changes them.

    ``changes`` is pure and runs while the previous batch is being written;
    ``write`` runs inside the runner's transaction and must be idempotent:
    writing the changes of an event already applied changes nothing.

    A view may decode records itself: ``async def decode(values)`` returns, for each
    record value, what its ``changes`` takes or the ``InvalidEvent`` to dead-letter (the
    resolver parses records in a helper process). Otherwise the runner's codec decodes.
    """

    name: str

    @property
    def schema(self) -> Sequence[str]:
        """Its tables' idempotent DDL, run by ``projections.db.create_tables``."""

    def changes(self, events: Sequence[Any]) -> Any: ...

    async def write(self, conn: Connection, changes: Any) -> None: ...
