"""The trigger rules as a pure fold: (customer state, event or clock) → (state, triggers).

``apply`` folds an event into the state through one handler table (the shared
``facts`` first, then each rule's watches, in the file's order) and returns what it
triggers at once (a bad survey, a VIP threshold); ``advance`` hands each timer due
by a moment to its rule, oldest first (cross-sell, reminders, SLAs, re-engagement,
lapse). Neither does I/O, reads a clock or changes a state: time is the event's
``occurred_at`` or the ``now`` given, and what rules know beyond the customer (the
co-purchase snapshot) is given to ``advance``, so scenario tests run in simulated time and
a replay with the same snapshot makes the same decisions.

A timed trigger is created at its timer's due time, an immediate one at its
event's time; with the rule, customer and evidence that makes it deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import chain

from events import Touchpoint
from projections.triggers.facts import FACTS, noted
from projections.triggers.gate import gate
from projections.triggers.handlers import Fired, HandlerTable
from projections.triggers.model import Audience, Kind, Trigger, trigger_id
from projections.triggers.rule import NOTHING_KNOWN, Known
from projections.triggers.rules import TriggerRules
from projections.triggers.state import CustomerState

Decided = tuple[CustomerState, list[Trigger]]


class TriggerEngine:
    def __init__(self, rules: TriggerRules) -> None:
        self.rules = rules
        self._by_name = {rule.name: rule for rule in rules.rules}
        self._table = HandlerTable(chain(FACTS, *(rule.watches() for rule in rules.rules)))

    def apply(
        self,
        state: CustomerState,
        customer_id: str,
        event: Touchpoint,
        now: datetime,
        offset: int | None = None,
    ) -> Decided:
        """Fold one of the customer's events into the state; the triggers it fires at once."""
        if offset is not None and offset <= state.last_offset:
            return state, []  # replayed after a restart: already in the state
        if state.has_seen(event.message_id):
            # republished by the resolver after a crash
            return (state, []) if offset is None else (state.evolve(last_offset=offset), [])
        state = noted(state, event, offset)
        fired: list[Fired] = []
        for handle in self._table.handlers(type(event)):
            state, more = handle(state, event)
            fired += more
        return self._decide(state, customer_id, fired, now) if fired else (state, [])

    def advance(
        self,
        state: CustomerState,
        customer_id: str,
        now: datetime,
        known: Known = NOTHING_KNOWN,
    ) -> Decided:
        """Fire every timer due by ``now``, oldest first (and any a rule sets again for a
        moment already past). ``known``: what the rules read beyond the state (the
        co-purchase snapshot for ``offer: recommended``), as of now."""
        fired: list[Fired] = []
        while due := sorted((t for t in state.timers if t.due <= now), key=lambda t: t.due):
            state = state.evolve(timers=tuple(t for t in state.timers if t.due > now))
            for timer in due:
                rule = self._by_name.get(timer.rule)
                if rule is not None and state.merged_into is None:
                    state, more = rule.on_timer(state, timer, known)
                    fired += more
        return self._decide(state, customer_id, fired, now) if fired else (state, [])

    def _decide(
        self, state: CustomerState, customer_id: str, fired: Iterable[Fired], now: datetime
    ) -> Decided:
        """Drop stale and repeated triggers; gate marketing on complaints, consent and caps."""
        decided: list[Trigger] = []
        for trigger in (self._trigger(customer_id, f) for f in fired):
            if trigger.trigger_id in state.fired or trigger.expires_at <= now:
                continue  # already decided once, or too late to act on (old history)
            state = state.remembering_fired(trigger.trigger_id, trigger.created_at)
            if trigger.kind is Kind.MARKETING:
                state, trigger = gate(self.rules, state, trigger)
            decided.append(trigger)
        return state, decided

    def _trigger(self, customer_id: str, fired: Fired) -> Trigger:
        rule = self._by_name[fired.rule]
        marketing = rule.kind is Kind.MARKETING
        return Trigger(
            trigger_id=trigger_id(rule.name, customer_id, fired.evidence, fired.about),
            rule=rule.name,
            rule_type=rule.type,
            customer_id=customer_id,
            kind=rule.kind,
            audience=fired.audience or (Audience.MARKETING if marketing else Audience.SERVICE),
            channel=rule.channel if marketing else fired.channel,
            reason=fired.reason[:1].upper() + fired.reason[1:],
            evidence=fired.evidence,
            created_at=fired.at,
            expires_at=fired.at + timedelta(days=rule.expires_after_days),
            offer=fired.offer,
        )
