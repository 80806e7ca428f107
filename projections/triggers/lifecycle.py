"""A stored trigger's status and what people may do to it (pure).

``open`` → ``acknowledged`` → ``closed``, or ``open`` → ``closed``. A suppressed trigger
was never sent and is not worked: it stays ``suppressed``.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    SUPPRESSED = "suppressed"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    CLOSE = "close"

    @property
    def outcome(self) -> Status:
        return Status.ACKNOWLEDGED if self is Action.ACKNOWLEDGE else Status.CLOSED


class InvalidTransition(Exception):  # says which status refused which action
    """The action does not apply to a trigger in its current status."""


_FROM: dict[Action, frozenset[Status]] = {
    Action.ACKNOWLEDGE: frozenset({Status.OPEN}),
    Action.CLOSE: frozenset({Status.OPEN, Status.ACKNOWLEDGED}),
}


def next_status(current: Status, action: Action) -> Status:
    """The status after ``action``; ``InvalidTransition`` if it does not apply."""
    if current not in _FROM[action]:
        allowed = " or ".join(sorted(_FROM[action]))
        raise InvalidTransition(
            f"cannot {action.value} a trigger that is {current.value}; "
            f"only {allowed} triggers can be {action.outcome.value}"
        )
    return action.outcome
