"""What the projection runner needs from a view: its tables, how a batch changes them, and
three hooks, whose defaults a view inherits from ``projections.view.ViewHooks``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from events.codec import Codec
from projections.view import Unapplicable

__all__ = ["Unapplicable", "View"]

Tx = TypeVar("Tx", contravariant=True)
"""What a view writes through: the checkpoint store's transaction (``consumers/ports.py``)."""


class View(Protocol[Tx]):
    """A projection: its tables, and how a batch of events changes them.

    ``changes`` is pure and runs while the previous batch is being written; ``write``
    runs inside the runner's transaction and must be idempotent: writing the changes of
    an event already applied changes nothing.
    """

    name: str

    @property
    def schema(self) -> Sequence[str]:
        """Its tables' idempotent DDL, run by the checkpoint store's ``prepare``: each
        version of the view has its own (``projections/versions.py``)."""

    @property
    def shared_schema(self) -> Sequence[str]:
        """DDL of tables every version of the view shares (kept across rebuilds)."""

    async def decode(self, values: Sequence[bytes | None], codec: Codec[Any]) -> Sequence[Any]:
        """For each record value, what ``changes`` takes, or the ``InvalidEvent`` to
        dead-letter."""

    def changes(self, events: Sequence[Any]) -> Any: ...

    async def write(self, tx: Tx, changes: Any) -> None: ...

    def committed(self) -> None:
        """The transaction ``write`` ran in has committed."""

    def reset(self) -> None:
        """Whatever was fetched or prepared is void: the runner repositions next."""
