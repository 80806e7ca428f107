"""Rule types that make offers (marketing): cross-sell, re-engagement, VIP, lapse risk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from events import Touchpoint
from events.touchpoints import InterestDeclared, ProductViewed, PurchaseCompleted
from projections.triggers.handlers import Step, Watch
from projections.triggers.model import Kind
from projections.triggers.rule import Category, Days, Rule
from projections.triggers.state import CustomerState, Timer


def _bought_since(state: CustomerState, timer: Timer) -> bool:
    """Whether the customer bought in the timer's category since it started waiting."""
    last = state.bought.get(timer.key)
    return last is not None and last >= timer.since


class CrossSell(Rule):
    """Bought in ``bought`` and nothing in ``offer`` within ``within_days`` → offer it."""

    type: Literal["cross_sell"]
    bought: Category
    offer: Category
    within_days: Days = 30
    kind: Literal[Kind.MARKETING] = Kind.MARKETING

    def watches(self) -> tuple[Watch[Any], ...]:
        return (Watch(PurchaseCompleted, self._purchase),)

    def _purchase(self, state: CustomerState, event: PurchaseCompleted) -> Step:
        if any(line.category == self.bought for line in event.payload.lines):
            state = self.wait(state, self.offer, event, timedelta(days=self.within_days))
        return state, ()

    def on_timer(self, state: CustomerState, timer: Timer) -> Step:
        if _bought_since(state, timer):
            return state, ()
        why = f"bought {self.bought} but no {self.offer} within {self.within_days} days"
        return state, self.fire(timer, why, offer=timer.key)


class ReEngagement(Rule):
    """Declared interest in a category, or ``min_views`` product views of it within
    ``within_days``, and no purchase in it ``within_days`` later → offer the category."""

    type: Literal["re_engagement"]
    min_views: Annotated[int, Field(ge=1, le=1000)] = 3
    within_days: Days = 14
    kind: Literal[Kind.MARKETING] = Kind.MARKETING

    def watches(self) -> tuple[Watch[Any], ...]:
        return (Watch(ProductViewed, self._viewed), Watch(InterestDeclared, self._declared))

    def _viewed(self, state: CustomerState, event: ProductViewed) -> Step:
        category, at = event.payload.category, event.occurred_at
        window = timedelta(days=self.within_days)
        views = [v for v in state.views.get(category, ()) if v[0] > at - window]
        views.append((at, event.message_id))
        recent = tuple(views[-self.min_views :])
        state = state.evolve(views={**state.views, category: recent})
        if len(views) < self.min_views or state.waiting(self.name, category):
            return state, ()
        evidence = tuple(i for _, i in recent)
        note = f"viewed {category} {len(recent)} times"
        timer = Timer(at + window, self.name, category, recent[0][0], evidence, note)
        return state.with_timer(timer), ()

    def _declared(self, state: CustomerState, event: InterestDeclared) -> Step:
        for category in event.payload.categories:
            note = f"declared an interest in {category}"
            state = self.wait(state, category, event, timedelta(days=self.within_days), note)
        return state, ()

    def on_timer(self, state: CustomerState, timer: Timer) -> Step:
        if _bought_since(state, timer):
            return state, ()
        views = {k: v for k, v in state.views.items() if k != timer.key}
        why = f"{timer.note or 'showed interest'} but bought none within {self.within_days} days"
        return state.evolve(views=views), self.fire(timer, why, offer=timer.key)


class Vip(Rule):
    """Lifetime spend (purchases less refunds) crosses ``threshold``."""

    type: Literal["vip"]
    threshold: Annotated[float, Field(gt=0)]
    kind: Kind = Kind.MARKETING

    def watches(self) -> tuple[Watch[Any], ...]:
        return (Watch(PurchaseCompleted, self._purchase),)

    def _purchase(self, state: CustomerState, event: PurchaseCompleted) -> Step:
        if self.name in state.crossed or state.spend < self.threshold:
            return state, ()
        why = f"lifetime spend {state.spend:,.2f} crossed {self.threshold:,.2f}"
        return state.evolve(crossed=state.crossed | {self.name}), self.fire_now(event, "vip", why)


class LapseRisk(Rule):
    """A customer with ≥ ``min_purchases`` purchases silent for ``silent_days``.

    The silence timer starts at the first activity and is not moved by every later
    one (that would be a new timer per event): once due, it waits again from the
    latest activity if there was one since.
    """

    type: Literal["lapse_risk"]
    silent_days: Days = 90
    min_purchases: Annotated[int, Field(ge=1)] = 2
    kind: Literal[Kind.MARKETING] = Kind.MARKETING

    def watches(self) -> tuple[Watch[Any], ...]:
        return (Watch(Touchpoint, self._active),)

    def _active(self, state: CustomerState, event: Touchpoint) -> Step:
        if state.last_activity_id != event.message_id or state.waiting(self.name, "silence"):
            return state, ()  # not the newest activity, or the timer already runs
        return state.with_timer(self._silence(event.occurred_at, event.message_id)), ()

    def _silence(self, since: datetime, activity: str) -> Timer:
        due = since + timedelta(days=self.silent_days)
        return Timer(due, self.name, "silence", since, (activity,))

    def on_timer(self, state: CustomerState, timer: Timer) -> Step:
        last, last_id = state.last_activity, state.last_activity_id
        if last is None or last_id is None:
            return state, ()
        if last > timer.since:  # active since the timer started: wait from then
            return state.with_timer(self._silence(last, last_id)), ()
        if state.purchases < self.min_purchases:
            return state, ()
        why = (
            f"{state.purchases} purchases, then silent for {self.silent_days} days "
            f"since {last.date().isoformat()}"
        )
        return state, self.fire(timer, why)
