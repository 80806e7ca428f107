"""Bookings of dated things: performances, events, appointments."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from events.envelope import Channel, Model, Name, UtcDatetime
from events.rules import NO_NUL
from events.sensitivity import restricted, service
from events.touchpoints.base import Currency, Money, ShortText, Touchpoint

SeatPart = Annotated[str, StringConstraints(min_length=1, max_length=8, pattern=NO_NUL)]


class Seat(Model):
    section: Name = service(description="e.g. 'Stalls', 'Dress Circle'.")
    row: SeatPart = service()
    number: SeatPart = service()


class BookingMadePayload(Model):
    booking_ref: Name = service()
    venue: Name = service()
    performance: Name = service(description="What is booked, e.g. the show's title.")
    performance_at: UtcDatetime = service()
    seats: tuple[Seat, ...] = service(min_length=1, max_length=50)
    total: Money = service()
    currency: Currency = service()
    promotion_code: Name | None = service(None)
    accessibility_needs: ShortText | None = restricted(
        None, description="e.g. a wheelchair space; health information, hence restricted."
    )


class BookingMade(Touchpoint):
    """Seats booked for a performance."""

    default_channel = Channel.WEB
    type: Literal["booking.made"] = "booking.made"
    payload: BookingMadePayload

    def summary(self) -> str:
        p = self.payload
        seats = len(p.seats)
        when = p.performance_at.strftime("%d %b %Y")
        return f"Booked {seats} seat{'s' if seats != 1 else ''} for {p.performance} on {when}"


TYPES: tuple[type[Touchpoint], ...] = (BookingMade,)
