"""Rule types that make offers (marketing): cross-sell, re-engagement, VIP, lapse risk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from events import Touchpoint
from events.touchpoints import InterestDeclared, ProductViewed, PurchaseCompleted
from projections.triggers.handlers import Fired, Step, Watch
from projections.triggers.model import Kind
from projections.triggers.rule import Category, Days, Known, Rule
from projections.triggers.state import CustomerState, Timer


def _bought_since(state: CustomerState, timer: Timer) -> bool:
    """Whether the customer bought in the timer's category since it started waiting."""
    last = state.bought.get(timer.key)
    return last is not None and last >= timer.since


RECOMMENDED = "recommended"
"""``offer: recommended``: the best category the customer has not bought, by co-purchases."""


class CrossSell(Rule):
    """Bought in ``bought`` and nothing in ``offer`` within ``within_days`` → offer it.

    With ``offer: recommended``, ``within_days`` after buying in ``bought`` the customer is
    offered the best category they have not bought: the strongest co-purchase rule from
    anything they bought (``Known.co_purchases``), else ``fallback`` if they have not
    bought it, else nothing. The trigger is about ``recommended`` (its id does not depend
    on the snapshot, so a timer fired again after a crash is the same trigger).
    """

    type: Literal["cross_sell"]
    bought: Category
    offer: Category
    fallback: Category | None = Field(
        None, description="With offer: recommended, what to offer when nothing is recommended."
    )
    within_days: Days = 30
    kind: Literal[Kind.MARKETING] = Kind.MARKETING

    @field_validator("bought")
    @classmethod
    def _bought_names_a_category(cls, bought: str) -> str:
        if bought == RECOMMENDED:
            raise ValueError(f"{RECOMMENDED!r} is only for offer, not a category bought")
        return bought

    @field_validator("fallback")
    @classmethod
    def _fallback_only_if_recommended(
        cls, fallback: str | None, info: ValidationInfo
    ) -> str | None:
        offer = info.data.get("offer")
        if fallback is not None and offer is not None and offer != RECOMMENDED:
            raise ValueError(f"a fallback is only for offer: {RECOMMENDED} (offer is {offer!r})")
        if fallback == RECOMMENDED:
            raise ValueError(f"the fallback must name a category, not {RECOMMENDED!r}")
        return fallback

    def watches(self) -> tuple[Watch[Any], ...]:
        return (Watch(PurchaseCompleted, self._purchase),)

    def _purchase(self, state: CustomerState, event: PurchaseCompleted) -> Step:
        if any(line.category == self.bought for line in event.payload.lines):
            state = self.wait(state, self.offer, event, timedelta(days=self.within_days))
        return state, ()

    def on_timer(self, state: CustomerState, timer: Timer, known: Known) -> Step:
        if self.offer == RECOMMENDED:
            return state, self._recommend(state, timer, known)
        if _bought_since(state, timer):
            return state, ()
        why = f"bought {self.bought} but no {self.offer} within {self.within_days} days"
        return state, self.fire(timer, why, offer=timer.key)

    def _recommend(self, state: CustomerState, timer: Timer, known: Known) -> tuple[Fired, ...]:
        best = known.co_purchases.best(state.bought.keys())
        if best is not None:
            why = (
                f"bought {self.bought}; {best.confidence:.0%} of customers who bought "
                f"{best.because} also bought {best.category} ({best.together} customers)"
            )
            return self.fire(timer, why, offer=best.category)
        if self.fallback is not None and self.fallback not in state.bought:
            why = f"bought {self.bought}; no co-purchase to recommend, so {self.fallback}"
            return self.fire(timer, why, offer=self.fallback)
        return ()


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

    def on_timer(self, state: CustomerState, timer: Timer, known: Known) -> Step:
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

    def on_timer(self, state: CustomerState, timer: Timer, known: Known) -> Step:
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
