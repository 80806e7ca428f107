"""What the projection runner needs from a view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from events import Touchpoint
from projections.db import Connection


class View(Protocol):
    """A PostgreSQL-backed projection: its tables, and how a batch of events changes them.

    ``apply`` runs inside the runner's transaction and must be idempotent:
    applying an event already applied changes nothing.
    """

    name: str

    async def create(self, conn: Connection) -> None: ...

    async def apply(self, conn: Connection, events: Sequence[Touchpoint]) -> None: ...
