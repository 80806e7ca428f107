"""What a rule type is: its parameters (validated from the rules file) and its behaviour.

A rule type is one class: a frozen pydantic model with a ``type`` literal, the
events it ``watches`` (each with a typed handler) and what its timers decide
(``on_timer``). Both return the next state and what fired; neither does I/O or
reads a clock. What a timer may read beyond the customer's state is handed to it
(``Known``: a snapshot the worker refreshes). Register a new class in ``rules.AnyRule``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from events import Touchpoint
from projections.recommendations.snapshot import NO_CO_PURCHASES, CoPurchases
from projections.triggers.handlers import Fired, Step, Watch
from projections.triggers.model import Audience, Kind, RuleName
from projections.triggers.state import CustomerState, Timer

Days = Annotated[int, Field(ge=1, le=3650)]
Category = Annotated[str, Field(min_length=1, max_length=200)]
ChannelName = Literal[
    "web", "phone", "email", "store", "sms", "mail", "kiosk", "chat", "social", "app"
]


@dataclass(frozen=True, slots=True)
class Known:
    """What rules know beyond one customer's state, shared by every customer and read-only:
    the strongest co-purchase rules (for ``offer: recommended``)."""

    co_purchases: CoPurchases = NO_CO_PURCHASES


NOTHING_KNOWN = Known()


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    kind: Kind
    name: RuleName
    expires_after_days: Days = 14
    channel: ChannelName | None = Field(
        None, description="Preferred channel; a marketing trigger falls back to a consented one."
    )

    def watches(self) -> tuple[Watch[Any], ...]:
        """The events this rule looks at, each with its handler."""
        return ()

    def on_timer(self, state: CustomerState, timer: Timer, known: Known) -> Step:
        """What one of this rule's timers decides once due (it is already removed). A
        timer set again from here must be due later than this one (``advance`` fires it
        at once if that moment is past too)."""
        return state, ()

    # -- for the rule types ---------------------------------------------------------------

    def wait(
        self,
        state: CustomerState,
        key: str,
        event: Touchpoint,
        after: timedelta,
        note: str = "",
    ) -> CustomerState:
        """A timer ``after`` the event, unless one waits about ``key`` already."""
        if state.waiting(self.name, key):
            return state
        at = event.occurred_at
        return state.with_timer(Timer(at + after, self.name, key, at, (event.message_id,), note))

    def fire(
        self,
        timer: Timer,
        reason: str,
        *,
        offer: str | None = None,
        channel: str | None = None,
        audience: Audience | None = None,
    ) -> tuple[Fired]:
        """A trigger at the timer's due time, on its evidence."""
        return (
            Fired(
                self.name, timer.due, timer.key, timer.evidence, reason, offer, channel, audience
            ),
        )

    def fire_now(
        self, event: Touchpoint, about: str, reason: str, *, channel: str | None = None
    ) -> tuple[Fired]:
        """A trigger at the event's time, on that event alone."""
        return (
            Fired(self.name, event.occurred_at, about, (event.message_id,), reason, None, channel),
        )
