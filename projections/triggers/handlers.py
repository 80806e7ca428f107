"""The one table the engine dispatches events by: event class → its handlers, in order.

A handler takes the customer's state and a typed event and returns the next state
with what fired (``Step``). ``Watch`` pairs an event class with a handler of exactly
that class (checked by mypy where it is written); one registered for a base class,
such as ``Touchpoint``, handles every event of its subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from events import Touchpoint
from projections.triggers.model import Audience
from projections.triggers.state import CustomerState

E = TypeVar("E", bound=Touchpoint)


@dataclass(frozen=True, slots=True)
class Fired:
    """A rule's decision for its customer, before the engine makes it a ``Trigger``."""

    rule: str
    at: datetime  # the trigger's created_at: its timer's due time, or its event's time
    about: str  # what it is about (a category, a case): part of the trigger id
    evidence: tuple[str, ...]
    reason: str
    offer: str | None = None
    channel: str | None = None
    audience: Audience | None = None


Step = tuple[CustomerState, tuple[Fired, ...]]
Handler = Callable[[CustomerState, Any], Step]


@dataclass(frozen=True, slots=True)
class Watch(Generic[E]):
    """``handle`` every event of class ``event`` (or of its subclasses)."""

    event: type[E]
    handle: Callable[[CustomerState, E], Step]


class HandlerTable:
    """The watches, looked up by an event's class (resolved once per class, then cached)."""

    def __init__(self, watches: Iterable[Watch[Any]]) -> None:
        self._watches = tuple(watches)
        self._by_class: dict[type[Touchpoint], tuple[Handler, ...]] = {}

    def handlers(self, event_class: type[Touchpoint]) -> tuple[Handler, ...]:
        found = self._by_class.get(event_class)
        if found is None:
            found = tuple(w.handle for w in self._watches if issubclass(event_class, w.event))
            self._by_class[event_class] = found
        return found
