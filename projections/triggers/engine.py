"""The trigger rules as a pure fold: (customer state, event or clock) → triggers.

``apply`` records what an event tells the rules and returns what it triggers at
once (a bad survey, a VIP threshold); ``advance`` fires the timers due by a
moment (cross-sell, reminders, SLAs, re-engagement, lapse). Neither does I/O
nor reads a clock: time is the event's ``occurred_at`` or the ``now`` given, so
scenario tests run in simulated time and a replay makes the same decisions.

A timed trigger is created at its timer's due time, an immediate one at its
event's time; with the rule, customer and evidence that makes it deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from events import Touchpoint
from projections.triggers.model import Audience, Kind, Suppression, Trigger, trigger_id
from projections.triggers.rules import (
    ComplaintEscalation,
    CrossSell,
    LapseRisk,
    ReEngagement,
    ServiceReminder,
    SurveyFollowUp,
    TriggerRules,
    Vip,
)
from projections.triggers.state import Complaint, Consent, CustomerState, Timer

# Channels a marketing message can go out on, in the order we try them.
MESSAGE_CHANNELS = ("email", "sms", "mail", "app", "phone")
NOT_ACTIVITY = ("identity.", "customer.", "email.sent", "sms.sent")


def _at_morning(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


class TriggerEngine:
    def __init__(self, rules: TriggerRules) -> None:
        self.rules = rules
        self._by_name = {rule.name: rule for rule in rules.rules}
        self._observers: dict[str, list[Callable[[CustomerState, Touchpoint], None]]] = {}
        self._immediate: list[Callable[[CustomerState, str, Touchpoint], list[Trigger]]] = []
        for rule in rules.rules:
            self._register(rule)

    # -- the two entry points ------------------------------------------------------------

    def apply(
        self,
        state: CustomerState,
        customer_id: str,
        event: Touchpoint,
        now: datetime,
        offset: int | None = None,
    ) -> list[Trigger]:
        """Fold one of the customer's events into the state; the triggers it fires at once."""
        if offset is not None:
            if offset <= state.last_offset:
                return []  # replayed after a restart: already in the state
            state.last_offset = offset
        if state.seen(event.message_id):
            return []  # republished by the resolver after a crash
        self._observe(state, event)
        for observe in self._observers.get(event.type, ()):
            observe(state, event)
        fired: list[Trigger] = []
        for evaluate in self._immediate:
            fired += evaluate(state, customer_id, event)
        return self._decide(state, fired, now)

    def advance(self, state: CustomerState, customer_id: str, now: datetime) -> list[Trigger]:
        """Fire every timer due by ``now``, oldest first."""
        due = sorted((t for t in state.timers if t.due <= now), key=lambda t: t.due)
        if not due:
            return []
        state.timers = [t for t in state.timers if t.due > now]
        fired: list[Trigger] = []
        for timer in due:
            rule = self._by_name.get(timer.rule)
            if rule is not None and state.merged_into is None:
                fired += self._on_timer(rule, state, customer_id, timer)
        return self._decide(state, fired, now)

    def absorb(self, survivor: CustomerState, merged: CustomerState) -> None:
        """Fold a merged customer's state into its survivor's (``customer.merged``)."""
        survivor.purchases += merged.purchases
        survivor.spend += merged.spend
        for category, at in merged.bought.items():
            survivor.bought[category] = max(at, survivor.bought.get(category, at))
        for category, views in merged.views.items():
            survivor.views[category] = sorted(survivor.views.get(category, []) + views)
        for key, consent in merged.consents.items():
            mine = survivor.consents.get(key)
            if mine is None or consent.at > mine.at:
                survivor.consents[key] = consent
        survivor.reachable |= merged.reachable
        survivor.preferred_channel = survivor.preferred_channel or merged.preferred_channel
        survivor.complaints |= merged.complaints
        waiting = {(t.rule, t.key) for t in survivor.timers}
        survivor.timers += [t for t in merged.timers if (t.rule, t.key) not in waiting]
        for tid, at in merged.fired.items():
            survivor.remember_fired(tid, at)
        for channel, times in merged.sent.items():
            survivor.sent[channel] = sorted(survivor.sent.get(channel, []) + times)
        survivor.crossed |= merged.crossed
        if merged.last_activity and (
            survivor.last_activity is None or merged.last_activity > survivor.last_activity
        ):
            survivor.last_activity = merged.last_activity
            survivor.last_activity_id = merged.last_activity_id

    # -- facts every rule shares ---------------------------------------------------------

    def _observe(self, state: CustomerState, event: Any) -> None:
        if not event.type.startswith(NOT_ACTIVITY) and (
            state.last_activity is None or event.occurred_at >= state.last_activity
        ):
            state.last_activity, state.last_activity_id = event.occurred_at, event.message_id
        subject = event.subject
        if subject.email:
            state.reachable.add("email")
        if subject.phone:
            state.reachable |= {"sms", "phone"}
        match event.type:
            case "purchase.completed":
                state.purchases += 1
                state.spend += float(event.payload.total)
                for line in event.payload.lines:
                    previous = state.bought.get(line.category)
                    if previous is None or event.occurred_at > previous:
                        state.bought[line.category] = event.occurred_at
            case "refund.issued":
                state.spend -= float(event.payload.amount)
            case "consent.changed":
                p = event.payload
                key = f"{p.purpose}|{p.channel or '*'}"
                known = state.consents.get(key)
                if known is None or event.occurred_at >= known.at:
                    state.consents[key] = Consent(str(p.status), event.occurred_at, p.expires_at)
            case "profile.updated":
                p = event.payload
                if p.emails:
                    state.reachable.add("email")
                if p.phones:
                    state.reachable |= {"sms", "phone"}
                if p.addresses:
                    state.reachable.add("mail")
                if p.preferred_channel:
                    state.preferred_channel = str(p.preferred_channel)
            case "complaint.opened":
                p = event.payload
                state.complaints[p.case_id] = Complaint(
                    event.occurred_at, str(p.severity), p.category, event.message_id
                )
            case "complaint.resolved":
                state.complaints.pop(event.payload.case_id, None)

    # -- rules: what each watches, and what its timer decides ----------------------------

    def _register(self, rule: Any) -> None:
        def on(event_type: str, handler: Callable[[CustomerState, Touchpoint], None]) -> None:
            self._observers.setdefault(event_type, []).append(handler)

        match rule:
            case CrossSell():
                on("purchase.completed", lambda s, e: self._watch_cross_sell(rule, s, e))
            case ServiceReminder():
                on("service.completed", lambda s, e: self._watch_service(rule, s, e))
                if rule.warranties:
                    on("warranty.registered", lambda s, e: self._watch_warranty(rule, s, e))
            case ComplaintEscalation():
                on("complaint.opened", lambda s, e: self._watch_complaint(rule, s, e))
                on("complaint.resolved", lambda s, e: _drop_timer(s, rule.name, _case(e)))
            case ReEngagement():
                on("product.viewed", lambda s, e: self._watch_views(rule, s, e))
                on("interest.declared", lambda s, e: self._watch_interest(rule, s, e))
            case SurveyFollowUp():
                self._immediate.append(lambda s, c, e: self._survey(rule, c, e))
            case Vip():
                self._immediate.append(lambda s, c, e: self._vip(rule, s, c, e))
            case LapseRisk():
                self._immediate.append(lambda s, c, e: self._watch_lapse(rule, s, e))

    def _watch_cross_sell(self, rule: CrossSell, state: CustomerState, event: Any) -> None:
        if any(line.category == rule.bought for line in event.payload.lines):
            _wait(state, rule.name, rule.offer, event, timedelta(days=rule.within_days))

    def _watch_service(self, rule: ServiceReminder, state: CustomerState, event: Any) -> None:
        p = event.payload
        if p.next_due_on is None:
            return
        thing = p.serial_number or p.product_sku or p.service_type
        _drop_timer(state, rule.name, f"service:{thing}")  # the newest visit decides
        due = _at_morning(p.next_due_on - timedelta(days=rule.days_before))
        note = f"{p.service_type} due on {p.next_due_on.isoformat()}"
        state.timers.append(
            Timer(due, rule.name, f"service:{thing}", event.occurred_at, [event.message_id], note)
        )

    def _watch_warranty(self, rule: ServiceReminder, state: CustomerState, event: Any) -> None:
        p = event.payload
        ends = _add_months(p.purchase_date, p.warranty_months)
        due = _at_morning(ends - timedelta(days=rule.days_before))
        note = f"warranty {p.warranty_id} on {p.product_name} ends on {ends.isoformat()}"
        key = f"warranty:{p.warranty_id}"
        _drop_timer(state, rule.name, key)
        state.timers.append(Timer(due, rule.name, key, event.occurred_at, [event.message_id], note))

    def _watch_complaint(self, rule: ComplaintEscalation, state: CustomerState, event: Any) -> None:
        p = event.payload
        sla = rule.sla_hours[str(p.severity)]  # type: ignore[index]
        due = event.occurred_at + timedelta(hours=sla)
        note = f"{p.severity} complaint about {p.category}, SLA {sla:g} h"
        state.timers.append(
            Timer(due, rule.name, p.case_id, event.occurred_at, [event.message_id], note)
        )

    def _watch_views(self, rule: ReEngagement, state: CustomerState, event: Any) -> None:
        category = event.payload.category
        window = timedelta(days=rule.within_days)
        views = [v for v in state.views.get(category, []) if v[0] > event.occurred_at - window]
        views.append((event.occurred_at, event.message_id))
        state.views[category] = views[-rule.min_views :]
        if len(views) >= rule.min_views and not _waiting(state, rule.name, category):
            recent = views[-rule.min_views :]
            state.timers.append(
                Timer(
                    event.occurred_at + window,
                    rule.name,
                    category,
                    recent[0][0],
                    [i for _, i in recent],
                    f"viewed {category} {len(recent)} times",
                )
            )

    def _watch_interest(self, rule: ReEngagement, state: CustomerState, event: Any) -> None:
        for category in event.payload.categories:
            if not _waiting(state, rule.name, category):
                _wait(
                    state,
                    rule.name,
                    category,
                    event,
                    timedelta(days=rule.within_days),
                    f"declared an interest in {category}",
                )

    def _watch_lapse(self, rule: LapseRisk, state: CustomerState, event: Any) -> list[Trigger]:
        if state.last_activity_id == event.message_id:  # the newest activity moves the timer
            _drop_timer(state, rule.name, "silence")
            _wait(state, rule.name, "silence", event, timedelta(days=rule.silent_days))
        return []

    def _on_timer(
        self, rule: Any, state: CustomerState, customer_id: str, timer: Timer
    ) -> list[Trigger]:
        """What a due timer decides; [] when the customer already did what was hoped for."""
        match rule:
            case CrossSell() | ReEngagement():
                last = state.bought.get(timer.key)
                if last is not None and last >= timer.since:
                    return []
                if isinstance(rule, ReEngagement):
                    state.views.pop(timer.key, None)
                    shown = timer.note or "showed interest"
                    why = f"{shown} but bought none within {rule.within_days} days"
                else:
                    why = f"bought {rule.bought} but no {rule.offer} within {rule.within_days} days"
                return [self._make(rule, customer_id, timer, why, offer=timer.key)]
            case ServiceReminder():
                return [
                    self._make(
                        rule,
                        customer_id,
                        timer,
                        f"Remind: {timer.note}",
                        channel=rule.channel or state.preferred_channel or "email",
                    )
                ]
            case ComplaintEscalation():
                complaint = state.complaints.get(timer.key)
                if complaint is None:
                    return []  # resolved in time
                hours = (timer.due - complaint.opened_at).total_seconds() / 3600
                why = (
                    f"complaint {timer.key} ({timer.note}) still open after {hours:g} h: "
                    "escalate to a manager"
                )
                return [
                    self._make(
                        rule,
                        customer_id,
                        timer,
                        why,
                        audience=Audience.MANAGER,
                        channel=rule.channel or "phone",
                    )
                ]
            case LapseRisk():
                if state.purchases < rule.min_purchases or state.last_activity is None:
                    return []
                if state.last_activity + timedelta(days=rule.silent_days) > timer.due:
                    return []
                why = (
                    f"{state.purchases} purchases, then silent for {rule.silent_days} days "
                    f"since {state.last_activity.date().isoformat()}"
                )
                return [self._make(rule, customer_id, timer, why)]
        return []

    def _survey(self, rule: SurveyFollowUp, customer_id: str, event: Any) -> list[Trigger]:
        if event.type not in ("survey.responded", "feedback.given"):
            return []
        p = event.payload
        low: list[str] = []
        if event.type == "survey.responded":
            low = [
                f"rated '{a.question}' {a.rating}/5"
                for a in p.answers
                if a.rating <= rule.max_rating
            ]
            if p.nps is not None and p.nps <= rule.max_nps:
                low.append(f"NPS {p.nps}")
        elif p.rating is not None and p.rating <= rule.max_rating:
            low = [f"rated {p.topic} {p.rating}/5"]
        if not low:
            return []
        timer = Timer(event.occurred_at, rule.name, "survey", event.occurred_at, [event.message_id])
        why = "Call back: " + ", ".join(low)
        return [self._make(rule, customer_id, timer, why, channel=rule.channel or "phone")]

    def _vip(self, rule: Vip, state: CustomerState, customer_id: str, event: Any) -> list[Trigger]:
        if event.type != "purchase.completed" or rule.name in state.crossed:
            return []
        if state.spend < rule.threshold:
            return []
        state.crossed.add(rule.name)
        timer = Timer(event.occurred_at, rule.name, "vip", event.occurred_at, [event.message_id])
        why = f"lifetime spend {state.spend:,.2f} crossed {rule.threshold:,.2f}"
        return [self._make(rule, customer_id, timer, why)]

    # -- building and gating -------------------------------------------------------------

    def _make(
        self,
        rule: Any,
        customer_id: str,
        timer: Timer,
        reason: str,
        *,
        offer: str | None = None,
        channel: str | None = None,
        audience: Audience | None = None,
    ) -> Trigger:
        kind = Kind(rule.kind)
        return Trigger(
            trigger_id=trigger_id(rule.name, customer_id, timer.evidence, timer.key),
            rule=rule.name,
            rule_type=rule.type,
            customer_id=customer_id,
            kind=kind,
            audience=audience
            or (Audience.MARKETING if kind is Kind.MARKETING else Audience.SERVICE),
            channel=channel if kind is Kind.SERVICE else rule.channel,
            reason=reason[:1].upper() + reason[1:],
            evidence=tuple(timer.evidence),
            created_at=timer.due,
            expires_at=timer.due + timedelta(days=rule.expires_after_days),
            offer=offer,
        )

    def _decide(self, state: CustomerState, fired: list[Trigger], now: datetime) -> list[Trigger]:
        """Drop stale and repeated triggers; gate marketing on complaints, consent and caps."""
        decided: list[Trigger] = []
        for trigger in fired:
            if trigger.trigger_id in state.fired or trigger.expires_at <= now:
                continue  # already decided once, or too late to act on (old history)
            state.remember_fired(trigger.trigger_id, trigger.created_at)
            if trigger.kind is Kind.MARKETING:
                trigger = self._gate(state, trigger)
            decided.append(trigger)
        return decided

    def _gate(self, state: CustomerState, trigger: Trigger) -> Trigger:
        at = trigger.created_at
        if state.complaints:
            cases = ", ".join(state.open_complaints())
            return trigger.suppress(Suppression.OPEN_COMPLAINT, f"open complaint(s): {cases}")
        wanted = [trigger.channel] if trigger.channel else _preference(state)
        refused: list[str] = []
        for channel in wanted:
            status = _consent(state, self.rules.consent_purpose, channel, at)
            if channel not in state.reachable:
                refused.append(f"{channel}: no contact details")
            elif status != "granted":
                refused.append(f"{channel}: {status}")
            else:
                return self._cap(state, trigger.model_copy(update={"channel": channel}), at)
        return trigger.suppress(
            Suppression.NO_CONSENT,
            f"no '{self.rules.consent_purpose}' consent on a usable channel ({'; '.join(refused)})",
        )

    def _cap(self, state: CustomerState, trigger: Trigger, at: datetime) -> Trigger:
        cap = self.rules.frequency_cap
        channel = trigger.channel or ""
        window = at - timedelta(days=cap.per_days)
        recent = [t for t in state.sent.get(channel, []) if t > window]
        if len(recent) >= cap.max:
            return trigger.suppress(
                Suppression.FREQUENCY_CAP,
                f"{len(recent)} marketing triggers on {channel} in the last {cap.per_days} days "
                f"(cap {cap.max})",
            )
        state.sent[channel] = [*recent, at]
        return trigger


def _preference(state: CustomerState) -> list[str]:
    preferred = [state.preferred_channel] if state.preferred_channel in MESSAGE_CHANNELS else []
    return preferred + [c for c in MESSAGE_CHANNELS if c not in preferred]


def _consent(state: CustomerState, purpose: str, channel: str, at: datetime) -> str:
    """The status that applies: the newer of the channel's own and the all-channel one."""
    options = [
        c
        for c in (state.consents.get(f"{purpose}|{channel}"), state.consents.get(f"{purpose}|*"))
        if c is not None
    ]
    if not options:
        return "no consent recorded"
    newest = max(options, key=lambda c: c.at)
    if newest.status == "granted" and newest.expires_at is not None and newest.expires_at <= at:
        return "consent expired"
    return newest.status


def _wait(
    state: CustomerState, rule: str, key: str, event: Any, after: timedelta, note: str = ""
) -> None:
    if not _waiting(state, rule, key):
        state.timers.append(
            Timer(event.occurred_at + after, rule, key, event.occurred_at, [event.message_id], note)
        )


def _waiting(state: CustomerState, rule: str, key: str) -> bool:
    return any(t.rule == rule and t.key == key for t in state.timers)


def _drop_timer(state: CustomerState, rule: str, key: str) -> None:
    state.timers = [t for t in state.timers if not (t.rule == rule and t.key == key)]


def _case(event: Any) -> str:
    return str(event.payload.case_id)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
