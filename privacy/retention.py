"""How long each event type's personal fields are kept (docs/PRIVACY.md, "Retention").

The period starts at the event's ``occurred_at``. When it is over, the data key the event
was sealed with is shredded (keys are per subject, per retention class and per day, see
``privacy.keys.Period``), and the read models drop the event's personal fields. The event
itself, and its non-personal facts (an order's total, a date), stay.

``None``: kept until the customer's erasure. Settings override any type
(``TOUCHLOG_RETENTION_DAYS='{"web.page_viewed": 90}'``).
"""

from __future__ import annotations

from collections.abc import Mapping

from events.catalogue import EVENT_TYPES

YEAR = 365

DEFAULT_DAYS: dict[str, int | None] = {
    # Browsing and tracking: 13 months, the usual limit for audience measurement.
    "web.page_viewed": 395,
    "product.viewed": 395,
    "search.performed": 395,
    "event.tracked": 395,
    # Conversations: three years after the contact.
    "call.logged": 3 * YEAR,
    "email.received": 3 * YEAR,
    "email.sent": 3 * YEAR,
    "chat.transcript_recorded": 3 * YEAR,
    "sms.received": 3 * YEAR,
    "sms.sent": 3 * YEAR,
    "letter.received": 3 * YEAR,
    "enquiry.received": 3 * YEAR,
    "web_form.submitted": 3 * YEAR,
    "feedback.given": 3 * YEAR,
    "survey.responded": 3 * YEAR,
    "competition.entered": 2 * YEAR,
    "campaign.responded": 3 * YEAR,
    "interest.declared": 3 * YEAR,
    "newsletter.subscribed": 3 * YEAR,
    "newsletter.unsubscribed": 3 * YEAR,
    # Complaints: six years, the usual limitation period for claims.
    "complaint.opened": 6 * YEAR,
    "complaint.updated": 6 * YEAR,
    "complaint.escalated": 6 * YEAR,
    "complaint.resolved": 6 * YEAR,
    # Commerce and aftercare: the books' ten years.
    "purchase.completed": 10 * YEAR,
    "order.returned": 10 * YEAR,
    "refund.issued": 10 * YEAR,
    "booking.made": 10 * YEAR,
    "service.completed": 10 * YEAR,
    "warranty.registered": 10 * YEAR,
    "rewards.earned": 6 * YEAR,
    "rewards.redeemed": 6 * YEAR,
    # The customer relationship itself: kept while it lasts, until erasure.
    "profile.updated": None,
    "consent.changed": None,
    "verification.set": None,
    "identity.linked": None,
    "identity.unlinked": None,
    "customer.merged": None,
    "customer.split": None,
    "customer.merge_rejected": None,
}


class Retention:
    """Each event type's retention in days (``None``: until erasure)."""

    def __init__(self, overrides: Mapping[str, int | None] | None = None) -> None:
        unknown = sorted(set(overrides or {}) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(
                f"retention for unknown event types: {', '.join(unknown)}; "
                f"known types: {', '.join(sorted(EVENT_TYPES))}"
            )
        for name, days in (overrides or {}).items():
            if days is not None and days < 1:
                raise ValueError(f"retention of {name}: {days} days; at least 1, or null")
        self.days = {name: DEFAULT_DAYS.get(name) for name in EVENT_TYPES} | dict(overrides or {})

    def of(self, type_name: str) -> int | None:
        return self.days.get(type_name)
