"""The demo's theatre: seats booked for a performance, a reminder the day before."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from events import Channel
from events import touchpoints as t
from producers.demo.story import Story

SHOWS = (
    ("The Lighthouse Keeper", "Theatre Royal"),
    ("A Winter Quartet", "The Playhouse"),
    ("Operetta Nights", "Theatre Royal"),
    ("The Glass Orchard", "Studio Theatre"),
)


def book(story: Story) -> t.BookingMade:
    rng, c = story.rng, story.customer
    show, venue = rng.choice(SHOWS)
    at, first = story.moment(), rng.randint(10, 30)
    seats = tuple(
        t.Seat(
            section=rng.choice(("Stalls", "Dress Circle")),
            row=rng.choice("ABCDEFGH"),
            number=str(n),
        )
        for n in range(first, first + rng.randint(1, 4))
    )
    needs = "wheelchair space and companion seat" if rng.random() < 0.05 else None
    booking = story.emit(
        t.BookingMade,
        t.BookingMadePayload(
            booking_ref=f"BK-{story.new_id()[:6].upper()}",
            venue=venue,
            performance=show,
            performance_at=(at + timedelta(days=rng.randint(3, 90))).replace(
                hour=19, minute=30, second=0
            ),
            seats=seats,
            total=Decimal(42) * len(seats),
            currency=c.currency,
            promotion_code=rng.choice((None, "TWOFORTUES")),
            accessibility_needs=needs,
        ),
        at=at,
        unit="theatre",
        channel=rng.choice((Channel.WEB, Channel.PHONE)),
        system="box-office",
    )
    if story.in_past(reminder := booking.payload.performance_at - timedelta(days=1)):
        story.emit(
            t.SmsSent,
            t.SmsPayload(
                our_number="60777",
                body=f"Reminder: {show}, tomorrow 19:30 at {venue}. "
                f"Ref {booking.payload.booking_ref}.",
            ),
            at=reminder,
            unit="theatre",
            after=booking,
        )
    return booking
