"""The demo's complaints, from opening to resolution, and what customers say afterwards."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from events import Channel
from events import touchpoints as t
from producers.demo.story import Story

GRIEVANCES = (
    ("delivery", "Parcel arrived two weeks late and the box was crushed."),
    ("billing", "I was charged twice for the same order."),
    ("product quality", "The jacket's zip broke after a week."),
    ("staff", "Nobody at the store could help with my return."),
)


def complaint(story: Story, unit: str) -> None:
    """Opened, worked on, sometimes escalated, resolved; then a survey."""
    rng, c = story.rng, story.customer
    category, description = rng.choice(GRIEVANCES)
    case_id = f"CASE-{rng.randint(100000, 999999)}"
    opened = story.emit(
        t.ComplaintOpened,
        t.ComplaintOpenedPayload(
            case_id=case_id,
            category=category,
            severity=rng.choice(tuple(t.Severity)),
            description=description,
        ),
        at=story.moment(),
        unit=unit,
        channel=rng.choice((Channel.PHONE, Channel.EMAIL, Channel.STORE)),
    )
    at = opened.occurred_at
    for status in rng.sample(tuple(t.ComplaintStatus), rng.randint(1, 2)):
        at += timedelta(hours=rng.randint(4, 72))
        update = t.ComplaintUpdatedPayload(
            case_id=case_id, status=status, note="Checked with the warehouse.", updated_by="agent-7"
        )
        story.emit(t.ComplaintUpdated, update, at=at, unit=unit, after=opened)
    if story.chance(0.3):
        at += timedelta(days=rng.randint(1, 5))
        escalation = t.ComplaintEscalatedPayload(
            case_id=case_id,
            to_level=rng.choice(tuple(t.EscalationLevel)[:3]),
            reason="Customer unhappy with the proposed remedy.",
            escalated_by="agent-7",
            respond_by=at + timedelta(days=5),
        )
        story.emit(t.ComplaintEscalated, escalation, at=at, unit=unit, after=opened)
    at += timedelta(days=rng.randint(1, 10))
    if not story.in_past(at):
        return
    compensation = rng.choice((Decimal("15.00"), Decimal("40.00"))) if story.chance(0.6) else None
    resolved = story.emit(
        t.ComplaintResolved,
        t.ComplaintResolvedPayload(
            case_id=case_id,
            resolution="Apologised and put it right.",
            resolved_by="team-lead-2",
            compensation=compensation,
            currency=c.currency if compensation else None,
            customer_satisfied=rng.random() < 0.75,
        ),
        at=at,
        unit=unit,
        after=opened,
    )
    if compensation:
        refund = t.RefundIssuedPayload(
            refund_id=f"RF-{story.new_id()[:8].upper()}",
            amount=compensation,
            currency=c.currency,
            method=t.PaymentMethod.CARD,
            reason="complaint",
            case_id=case_id,
        )
        refund_at = at + timedelta(hours=2)
        story.emit(
            t.RefundIssued, refund, at=refund_at, unit=unit, system="payments", after=resolved
        )
    survey(story, unit, after=at + timedelta(days=2), name="How did we handle your complaint?")


def survey(
    story: Story, unit: str, *, after: datetime | None = None, name: str = "Your recent visit"
) -> None:
    rng = story.rng
    at = story.moment(after, timedelta(days=7) if after else None)
    questions = (("q1", "How easy was it to reach us?"), ("q2", "How well did we solve it?"))
    story.emit(
        t.SurveyResponded,
        t.SurveyRespondedPayload(
            survey_id="SV-COMPLAINT" if after else "SV-VISIT",
            survey_name=name,
            answers=tuple(
                t.SurveyAnswer(question_id=q, question=text, rating=rng.randint(1, 5))
                for q, text in questions
            ),
            nps=rng.randint(0, 10),
            comment=rng.choice((None, "Friendly staff.", "Took too long.")),
            age_band=rng.choice((None, age_band(story.customer.date_of_birth, at.date()))),
        ),
        at=at,
        unit=unit,
        system="survey-tool",
    )


def feedback(story: Story, unit: str) -> None:
    rng = story.rng
    sentiment = rng.choice(tuple(t.Sentiment))
    words = {"positive": "Lovely quality, will buy again.", "neutral": "Fine, nothing special."}
    story.emit(
        t.FeedbackGiven,
        t.FeedbackGivenPayload(
            topic=rng.choice(("product", "delivery", "store", "web site")),
            sentiment=sentiment,
            text=words.get(sentiment.value, "Disappointed with the service."),
            rating=rng.randint(1, 5),
            publishable=rng.random() < 0.5,
        ),
        at=story.moment(),
        unit=unit,
        channel=rng.choice((Channel.WEB, Channel.SOCIAL, Channel.APP)),
    )


BANDS = (
    (18, t.AgeBand.UNDER_18),
    (25, t.AgeBand.AGE_18_24),
    (35, t.AgeBand.AGE_25_34),
    (50, t.AgeBand.AGE_35_49),
    (65, t.AgeBand.AGE_50_64),
)
"""The bands below 65, each with the age it ends before."""


def age_band(born: date, on: date) -> t.AgeBand:
    """The band a person born on ``born`` is in on ``on``."""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for limit, band in BANDS:
        if age < limit:
            return band
    return t.AgeBand.AGE_65_PLUS
