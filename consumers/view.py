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

    A view that sets ``reads_values = True`` is called ``changes(events, values)``,
    ``values`` being the record value each event was decoded from.
    """

    name: str

    async def create(self, conn: Connection) -> None: ...

    def changes(self, events: Sequence[Any]) -> Any: ...

    async def write(self, conn: Connection, changes: Any) -> None: ...


class ValuesView(Protocol):
    """``changes`` of a view that sets ``reads_values = True``."""

    def changes(self, events: Sequence[Any], values: Sequence[bytes]) -> Any: ...
