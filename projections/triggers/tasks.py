"""Rule types that give staff a task (service): reminders, escalations, call-backs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from events.sensitivity import is_erased
from events.touchpoints import (
    ComplaintOpened,
    ComplaintResolved,
    FeedbackGiven,
    ServiceCompleted,
    SurveyResponded,
    WarrantyRegistered,
)
from events.touchpoints.complaints import Severity
from projections.triggers.handlers import Step, Watch
from projections.triggers.model import Audience, Kind
from projections.triggers.rule import Days, Known, Rule
from projections.triggers.state import CustomerState, Timer


class ServiceReminder(Rule):
    """A service's next due date (or a warranty's end) → a reminder ``days_before`` it."""

    type: Literal["service_reminder"]
    days_before: Days = 14
    warranties: bool = Field(True, description="Also remind before a warranty ends.")
    kind: Literal[Kind.SERVICE] = Kind.SERVICE

    def watches(self) -> tuple[Watch[Any], ...]:
        serviced = Watch(ServiceCompleted, self._serviced)
        if not self.warranties:
            return (serviced,)
        return serviced, Watch(WarrantyRegistered, self._warranty)

    def _serviced(self, state: CustomerState, event: ServiceCompleted) -> Step:
        p = event.payload
        if p.next_due_on is None:
            return state, ()
        thing = p.serial_number or p.product_sku or p.service_type
        note = f"{p.service_type} due on {p.next_due_on.isoformat()}"
        return self._remind(state, event, f"service:{thing}", p.next_due_on, note), ()

    def _warranty(self, state: CustomerState, event: WarrantyRegistered) -> Step:
        p = event.payload
        ends = _add_months(p.purchase_date, p.warranty_months)
        note = f"warranty {p.warranty_id} on {p.product_name} ends on {ends.isoformat()}"
        return self._remind(state, event, f"warranty:{p.warranty_id}", ends, note), ()

    def _remind(
        self,
        state: CustomerState,
        event: ServiceCompleted | WarrantyRegistered,
        key: str,
        day: date,
        note: str,
    ) -> CustomerState:
        """A reminder ``days_before`` the day, at 9:00 UTC; the newest event decides."""
        due = datetime.combine(day - timedelta(days=self.days_before), time(9), tzinfo=UTC)
        evidence = (event.message_id,)
        return state.replacing_timer(Timer(due, self.name, key, event.occurred_at, evidence, note))

    def on_timer(self, state: CustomerState, timer: Timer, known: Known) -> Step:
        channel = self.channel or state.preferred_channel or "email"
        return state, self.fire(timer, f"Remind: {timer.note}", channel=channel)


class ComplaintEscalation(Rule):
    """A complaint still open after its severity's SLA → a task for a manager."""

    type: Literal["complaint_escalation"]
    sla_hours: dict[Severity, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {
            Severity.LOW: 120.0,
            Severity.MEDIUM: 72.0,
            Severity.HIGH: 24.0,
            Severity.CRITICAL: 4.0,
        }
    )
    kind: Literal[Kind.SERVICE] = Kind.SERVICE

    @model_validator(mode="after")
    def _every_severity(self) -> ComplaintEscalation:
        missing = set(Severity) - set(self.sla_hours)
        if missing:
            names = ", ".join(sorted(s.value for s in missing))
            raise ValueError(f"sla_hours needs every severity; missing: {names}")
        return self

    def watches(self) -> tuple[Watch[Any], ...]:
        return Watch(ComplaintOpened, self._opened), Watch(ComplaintResolved, self._resolved)

    def _opened(self, state: CustomerState, event: ComplaintOpened) -> Step:
        p = event.payload
        sla = self.sla_hours[p.severity]
        due = event.occurred_at + timedelta(hours=sla)
        note = f"{p.severity} complaint about {p.category}, SLA {sla:g} h"
        timer = Timer(due, self.name, p.case_id, event.occurred_at, (event.message_id,), note)
        return state.with_timer(timer), ()

    def _resolved(self, state: CustomerState, event: ComplaintResolved) -> Step:
        return state.without_timer(self.name, event.payload.case_id), ()

    def on_timer(self, state: CustomerState, timer: Timer, known: Known) -> Step:
        complaint = state.complaints.get(timer.key)
        if complaint is None:
            return state, ()  # resolved in time
        hours = (timer.due - complaint.opened_at).total_seconds() / 3600
        why = (
            f"complaint {timer.key} ({timer.note}) still open after {hours:g} h: "
            "escalate to a manager"
        )
        channel = self.channel or "phone"
        return state, self.fire(timer, why, audience=Audience.MANAGER, channel=channel)


class SurveyFollowUp(Rule):
    """A rating ≤ ``max_rating`` or an NPS ≤ ``max_nps`` → a call-back task for service."""

    type: Literal["survey_follow_up"]
    max_rating: Annotated[int, Field(ge=1, le=5)] = 2
    max_nps: Annotated[int, Field(ge=0, le=10)] = 6
    kind: Literal[Kind.SERVICE] = Kind.SERVICE

    def watches(self) -> tuple[Watch[Any], ...]:
        return Watch(SurveyResponded, self._survey), Watch(FeedbackGiven, self._feedback)

    def _survey(self, state: CustomerState, event: SurveyResponded) -> Step:
        p = event.payload
        answers = () if is_erased(p.answers) else p.answers  # "[erased]": key shredded
        low = [f"rated '{a.question}' {a.rating}/5" for a in answers if a.rating <= self.max_rating]
        if p.nps is not None and p.nps <= self.max_nps:
            low.append(f"NPS {p.nps}")
        return self._call_back(state, event, low)

    def _feedback(self, state: CustomerState, event: FeedbackGiven) -> Step:
        p = event.payload
        rated_low = p.rating is not None and p.rating <= self.max_rating
        low = [f"rated {p.topic} {p.rating}/5"] if rated_low else []
        return self._call_back(state, event, low)

    def _call_back(
        self, state: CustomerState, event: SurveyResponded | FeedbackGiven, low: list[str]
    ) -> Step:
        if not low:
            return state, ()
        why = "Call back: " + ", ".join(low)
        return state, self.fire_now(event, "survey", why, channel=self.channel or "phone")


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
