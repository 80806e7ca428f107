"""One customer's story: its clock, and envelopes as each channel system writes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import TypeVar

from events import Campaign, Channel, ExternalId, Source, Subject, Touchpoint
from events.envelope import Model
from producers.demo.cast import DemoCustomer

T = TypeVar("T", bound=Touchpoint)

SYSTEMS = {
    Channel.WEB: "web-shop",
    Channel.APP: "mobile-app",
    Channel.PHONE: "callcentre-genesys",
    Channel.EMAIL: "email-desk",
    Channel.CHAT: "chat-widget",
    Channel.SMS: "sms-gateway",
    Channel.MAIL: "mailroom",
    Channel.STORE: "pos-tills",
    Channel.KIOSK: "store-kiosk",
    Channel.SOCIAL: "social-listening",
}
QUIET_TIME = timedelta(minutes=10)
"""Nothing happens in the last minutes before ``now``: stamps stay in the past."""


@dataclass
class Story:
    rng: Random
    customer: DemoCustomer
    now: datetime
    settle: timedelta = timedelta(0)
    """Margin before ``now`` for new activities, so that their follow-ups happen too."""
    showcase: bool = False
    """The showcase story: whatever might happen, happens."""
    events: list[Touchpoint] = field(default_factory=list)

    def chance(self, probability: float) -> bool:
        """Whether something that happens with ``probability`` happens here."""
        return self.rng.random() < probability or self.showcase

    def moment(self, after: datetime | None = None, within: timedelta | None = None) -> datetime:
        """A time after ``after`` (the customer's first day), within ``within``, before now."""
        end = self.now - QUIET_TIME - (timedelta(0) if after else self.settle)
        start = min(after or self.customer.since, end)
        if within is not None:
            end = min(end, start + within)
        when = start + timedelta(seconds=round(self.rng.uniform(0, (end - start).total_seconds())))
        if when.hour < 7 and when + timedelta(hours=8) <= end:
            when += timedelta(hours=8)  # most of it happens in the day
        return when

    def in_past(self, when: datetime) -> bool:
        return when < self.now - QUIET_TIME

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def subject(self, channel: Channel) -> Subject:
        """Who the event is about, as far as that channel knows."""
        c = self.customer
        known = c.customer_id if self.rng.random() < c.known_share else None
        if channel in (Channel.WEB, Channel.APP):
            return Subject(customer_id=known, anonymous_id=f"anon-{c.number:05d}-{channel.value}")
        if channel in (Channel.PHONE, Channel.SMS):
            return Subject(customer_id=known, phone=c.phone)
        if channel in (Channel.EMAIL, Channel.CHAT):
            return Subject(customer_id=known, email=c.email)
        if channel is Channel.SOCIAL:
            profile = ExternalId(type="social_profile", id=f"sp-{c.number:05d}")
            return Subject(customer_id=known, external_ids=(profile,))
        if channel in (Channel.STORE, Channel.KIOSK) and c.loyalty_number:
            card = ExternalId(type="loyalty_card", id=c.loyalty_number)
            return Subject(customer_id=known, external_ids=(card,))
        number = ExternalId(type="retail_customer_no", id=c.retail_number)
        return Subject(customer_id=known, external_ids=(number,))

    def emit(
        self,
        cls: type[T],
        payload: Model,
        *,
        at: datetime,
        unit: str,
        channel: Channel | None = None,
        system: str | None = None,
        subject: Subject | None = None,
        campaign: Campaign | None = None,
        after: Touchpoint | None = None,
    ) -> T:
        """Record one touchpoint; ``after`` is the event that caused it.

        A follow-up that would happen after ``now`` has not happened yet: it is
        returned but not recorded.
        """
        channel = channel or cls.default_channel
        sent_at = at + timedelta(seconds=self.rng.randint(0, 20))
        event = cls(
            type=cls.type_name(),
            message_id=self.new_id(),
            occurred_at=at,
            sent_at=sent_at,
            received_at=sent_at + timedelta(milliseconds=self.rng.randint(5, 900)),
            source=Source(system=system or SYSTEMS[channel], business_unit=unit, channel=channel),
            subject=subject or self.subject(channel),
            campaign=campaign,
            correlation_id=(after.correlation_id or after.message_id) if after else None,
            causation_id=after.message_id if after else None,
            payload=payload,
        )
        if self.in_past(at):
            self.events.append(event)
        return event
