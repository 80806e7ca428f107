"""What every view the projection runner applies shares: how a batch becomes rows, how it
refuses an event, and the defaults of the runner's hooks (``consumers.view.View``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from events import Touchpoint
from events.codec import Codec
from events.resolved import Resolved


class _Row(Protocol):
    def identity(self) -> Hashable: ...


R = TypeVar("R", bound=_Row)


def project_batch(
    events: Iterable[Touchpoint | Resolved],
    project: Callable[[Touchpoint, str | None], Iterable[R]],
) -> list[R]:
    """A batch's rows, each identity once (a batch may hold a re-published event): a
    resolved event's under its customer, a raw touchpoint's under its best identifier."""
    rows: dict[Hashable, R] = {}
    for item in events:
        if isinstance(item, Resolved):
            event, customer_id = item.event, item.customer_id
        else:
            event, customer_id = item, None
        for row in project(event, customer_id):
            rows.setdefault(row.identity(), row)
    return list(rows.values())


class Unapplicable(Exception):  # names what happened to the event
    """Raised by a view for an event it cannot apply (dead-lettered with this reason)."""


class ViewHooks:
    """The defaults of the hooks of ``consumers.view.View``: records decoded by the runner's
    codec, nothing kept between batches. The resolver overrides all three (it decodes in
    its helper process and caches the graph it committed)."""

    shared_schema: Sequence[str] = ()
    """Tables every version of the view shares: none unless the view says so."""

    async def decode(self, values: Sequence[bytes | None], codec: Codec[Any]) -> Sequence[Any]:
        return await codec.decode_records(values)  # opened first, if sealed

    def committed(self) -> None:
        return None

    def reset(self) -> None:
        return None
