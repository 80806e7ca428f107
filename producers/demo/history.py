"""``touchlog demo --years N``: years of business with trends planted for analytics to find.

Deterministic for a seed. The planted trends (``PLANTED``):
- the customer base grows by ``growth`` a year (new customers outnumber those who lapse);
- sales peak in ``peak_month`` (December), and stores sell most on Saturdays;
- ``SPRING-MAILER`` (each April) pays: its responders mostly buy, big baskets, low cost;
- ``SUMMER-SMS`` (each July) does not: responders buy no more than anyone, high cost;
- ``garden`` is a popular interest that almost never converts into a purchase;
- "Delivery time" is the survey topic rated low, more often each year.

Events come month by month, oldest first, so that years of history never sit in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from random import Random

from events import Campaign, Channel, Source, Subject, Touchpoint
from events import touchpoints as t
from events.envelope import Model


@dataclass(frozen=True, slots=True)
class Planted:
    growth: float = 0.25
    peak_month: int = 12
    peak_factor: float = 1.8
    paying_campaign: str = "SPRING-MAILER"
    losing_campaign: str = "SUMMER-SMS"
    dead_interest: str = "garden"
    problem_topic: str = "Delivery time"
    cost_per_customer: tuple[tuple[str, int], ...] = (("SPRING-MAILER", 20), ("SUMMER-SMS", 300))
    """What each campaign costs over the years, per customer at the start."""

    def campaign_costs(self, customers: int) -> dict[str, Decimal]:
        """The costs to configure (``TOUCHLOG_ANALYTICS_CAMPAIGN_COSTS``) for a history of
        ``customers``: the spring mailer pays for itself many times, the summer texts never."""
        return {code: Decimal(cost * customers) for code, cost in self.cost_per_customer}


PLANTED = Planted()
CATEGORIES = ("home", "kitchen", "clothing", "garden", "toys", "books")
PRICES = {"home": 25, "kitchen": 60, "clothing": 70, "garden": 20, "toys": 35, "books": 22}
STORES = ("ST-PARIS-01", "ST-LYON-02", "ST-LILLE-03", "ST-NANTES-04", "ST-NICE-05")
STORE_WEIGHTS = (5, 3, 2, 2, 1)
AGENTS = tuple(f"AG-{n:03d}" for n in range(1, 9))
TOPICS = ("Delivery time", "Staff friendliness", "Product quality", "Value for money")
LINES = {"SPRING-MAILER": "+33800100200", "SUMMER-SMS": "+33800100300"}
INCOME = ("under_20k", "20k_40k", "40k_70k", "70k_100k", "over_100k")
SEASON = {1: 0.8, 2: 0.8, 3: 0.9, 4: 1.0, 5: 1.0, 6: 1.0, 7: 0.9, 8: 0.8, 9: 1.0, 10: 1.0, 11: 1.2}
MONTHLY_CHURN = 0.012
SITE = "https://shop.example.com/"


@dataclass
class _Customer:
    customer_id: str
    interests: tuple[str, ...]
    income: int
    """Index into ``INCOME``: spend grows with it."""
    born: date


def _months(start: date, count: int) -> Iterator[tuple[datetime, datetime]]:
    year, month = start.year, start.month
    for _ in range(count):
        begin = datetime(year, month, 1, tzinfo=UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        yield begin, datetime(year, month, 1, tzinfo=UTC)


class History:
    """One business's years, as ``Touchpoint``s in time order."""

    def __init__(self, customers: int, years: int, *, seed: int = 11, now: datetime) -> None:
        self.rng = Random(seed)
        self.initial, self.years, self.now = customers, years, now
        self.plan = PLANTED
        self.active: list[_Customer] = []
        self.joined = 0
        self.later: list[Touchpoint] = []
        """Follow-ups that fall in a later month (a complaint's resolution)."""

    def events(self) -> Iterator[Touchpoint]:
        start = self._start()
        first, months = start.date(), self.years * 12 + 13
        end = self.now - timedelta(minutes=10)
        for begin, until in _months(first, months):
            self._grow(begin)
            batch, self.later = self.later, []
            for customer in self.active:
                batch += self._month_of(customer, begin, until)
            batch += self._campaign(begin, until)
            now, self.later = (
                [e for e in batch if e.occurred_at < until],
                [e for e in batch if e.occurred_at >= until],
            )
            now.sort(key=lambda e: (e.occurred_at, e.message_id))
            yield from (e for e in now if e.occurred_at < end)

    # --- who is a customer -------------------------------------------------------------

    def _grow(self, begin: datetime) -> None:
        rng = self.rng
        self.active = [c for c in self.active if rng.random() >= MONTHLY_CHURN]
        target = self.initial * (1 + self.plan.growth) ** ((begin - self._start()).days / 365)
        joiners = max(0, round(target - len(self.active)))
        for _ in range(joiners):
            self.joined += 1
            weights = [3 if c == self.plan.dead_interest else 1 for c in CATEGORIES]
            interests = tuple(set(rng.choices(CATEGORIES, weights, k=2)))
            born = date(begin.year - rng.randint(19, 80), rng.randint(1, 12), 15)
            income = rng.randrange(len(INCOME))
            if begin.year - born.year < 26 and income == len(INCOME) - 1 and rng.random() < 0.85:
                income = 1  # few of the young earn the most: a small cell to suppress
            customer = _Customer(f"H-{self.joined:07d}", interests, income, born)
            self.active.append(customer)
            self.later.append(self._joined(customer, begin))

    def _start(self) -> datetime:
        """A year before ``years`` ago: the year to date has its match ``years`` before."""
        return datetime(self.now.year - self.years - 1, self.now.month, 1, tzinfo=UTC)

    def _joined(self, c: _Customer, begin: datetime) -> Touchpoint:
        payload = t.ProfileUpdatedPayload(date_of_birth=c.born, income_band=INCOME[c.income])
        return self._emit(t.ProfileUpdated, payload, c, begin + timedelta(hours=9), Channel.WEB)

    # --- what a customer does in a month ---------------------------------------------

    def _month_of(self, c: _Customer, begin: datetime, until: datetime) -> list[Touchpoint]:
        rng, out = self.rng, []
        season = self.plan.peak_factor if begin.month == self.plan.peak_month else 1.0
        season *= SEASON.get(begin.month, 1.0)
        for _ in range(self._count(1.2)):
            url = SITE + rng.choice(("", "sale", "stores", "delivery"))
            page = t.WebPageViewedPayload(url=url, session_id=self._id()[:12])
            out.append(self._emit(t.WebPageViewed, page, c, self._at(begin, until), Channel.WEB))
        if rng.random() < 0.5:
            category = rng.choice(c.interests)
            viewed = t.ProductViewedPayload(sku=f"SKU-{category}", name=category, category=category)
            out.append(self._emit(t.ProductViewed, viewed, c, self._at(begin, until), Channel.WEB))
        if rng.random() < 0.03:
            declared = t.InterestDeclaredPayload(categories=c.interests)
            out.append(
                self._emit(t.InterestDeclared, declared, c, self._at(begin, until), Channel.WEB)
            )
        out += [
            self._purchase(c, self._at(begin, until, saturday=True))
            for _ in range(self._count(0.2 * season))
        ]
        if rng.random() < 0.15:
            out.append(self._call(c, self._at(begin, until)))
        if rng.random() < 0.05:
            out.append(self._survey(c, self._at(begin, until)))
        if rng.random() < 0.02:
            out += self._complaint(c, self._at(begin, until))
        return out

    def _count(self, mean: float) -> int:
        """A count with the given mean (mean < 3): successes in three draws."""
        return sum(self.rng.random() < mean / 3 for _ in range(3))

    def _at(self, begin: datetime, until: datetime, *, saturday: bool = False) -> datetime:
        rng = self.rng
        days = (until - begin).days
        day = rng.randrange(days)
        if saturday and rng.random() < 0.3:  # the Saturday shoppers
            day = min(days - 1, day + (5 - (begin + timedelta(days=day)).weekday()) % 7)
        return begin + timedelta(days=day, seconds=rng.randint(8 * 3600, 20 * 3600))

    def _purchase(self, c: _Customer, at: datetime, extra: int = 0) -> Touchpoint:
        rng = self.rng
        if rng.random() < 0.6:
            options = [x for x in c.interests if x != self.plan.dead_interest]
            category = rng.choice(options or [x for x in CATEGORIES if x != "garden"])
        else:
            category = rng.choice([x for x in CATEGORIES if x != self.plan.dead_interest])
        price = Decimal(PRICES[category] + extra) * Decimal(1 + c.income) / 2
        quantity = rng.randint(1, 3)
        line = t.OrderLine(sku=f"SKU-{category}", category=category, quantity=quantity,
                           unit_price=price.quantize(Decimal("0.01")))  # fmt: skip
        in_store = rng.random() < 0.6
        payload = t.PurchaseCompletedPayload(
            order_id="O-" + self._id()[:10],
            lines=(line,),
            currency="EUR",
            total=line.unit_price * quantity,
            payment_method=t.PaymentMethod.CARD,
            store_id=rng.choices(STORES, STORE_WEIGHTS)[0] if in_store else None,
        )
        channel = Channel.STORE if in_store else Channel.WEB
        return self._emit(t.PurchaseCompleted, payload, c, at, channel, unit="retail")

    def _call(self, c: _Customer, at: datetime) -> Touchpoint:
        payload = t.CallLoggedPayload(
            direction=t.CallDirection.INBOUND,
            duration_seconds=self.rng.randint(60, 900),
            reason="order enquiry",
            outcome="answered",
            agent_id=self.rng.choice(AGENTS),
        )
        return self._emit(t.CallLogged, payload, c, at, Channel.PHONE)

    def _survey(self, c: _Customer, at: datetime) -> Touchpoint:
        rng = self.rng
        # Deliveries get worse every year: their low ratings grow.
        late = 0.15 + 0.1 * (at - self._start()).days / 365
        answers = tuple(
            t.SurveyAnswer(
                question_id=f"Q{n}",
                question=topic,
                rating=rng.randint(1, 2)
                if rng.random() < (late if topic == self.plan.problem_topic else 0.08)
                else rng.randint(3, 5),
            )
            for n, topic in enumerate(TOPICS)
        )
        payload = t.SurveyRespondedPayload(
            survey_id="S-ANNUAL", survey_name="How did we do?", answers=answers,
            nps=min(10, max(0, round(rng.gauss(7 + c.income * 0.4, 2)))),
        )  # fmt: skip
        return self._emit(t.SurveyResponded, payload, c, at, Channel.EMAIL)

    def _complaint(self, c: _Customer, at: datetime) -> list[Touchpoint]:
        case = "CASE-" + self._id()[:8]
        opened = t.ComplaintOpenedPayload(
            case_id=case, category="delivery", severity=t.Severity.MEDIUM, description="late"
        )
        out = [self._emit(t.ComplaintOpened, opened, c, at, Channel.PHONE)]
        if self.rng.random() < 0.4:
            update = t.ComplaintUpdatedPayload(
                case_id=case,
                status=t.ComplaintStatus.INVESTIGATING,
                note="chasing",
                updated_by="AG-001",
            )
            out.append(self._emit(t.ComplaintUpdated, update, c, at + timedelta(hours=4)))
        resolved = t.ComplaintResolvedPayload(
            case_id=case, resolution="redelivered", resolved_by=self.rng.choice(AGENTS)
        )
        later = at + timedelta(hours=self.rng.randint(1, 240))
        out.append(self._emit(t.ComplaintResolved, resolved, c, later, Channel.PHONE))
        return out

    # --- the campaigns -----------------------------------------------------------------

    def _campaign(self, begin: datetime, until: datetime) -> list[Touchpoint]:
        code = {4: self.plan.paying_campaign, 7: self.plan.losing_campaign}.get(begin.month)
        if code is None:
            return []
        out: list[Touchpoint] = []
        for c in self.rng.sample(self.active, k=len(self.active) // 20):
            at = self._at(begin, until)
            how = self.rng.choice(("called", "clicked", "replied"))
            payload = t.CampaignRespondedPayload(
                campaign_code=code,
                response=t.CampaignResponse(how),
                reference_number=f"REF-{code}" if how == "replied" else None,
                campaign_phone_number=LINES[code] if how == "called" else None,
                landing_url=f"{SITE}{code.lower()}" if how == "clicked" else None,
            )  # fmt: skip
            channel = {"called": Channel.PHONE, "clicked": Channel.WEB}.get(how, Channel.MAIL)
            campaign = Campaign(code=code, reference=payload.reference_number)
            out.append(self._emit(t.CampaignResponded, payload, c, at, channel, campaign=campaign))
            if code == self.plan.paying_campaign and self.rng.random() < 0.7:
                bought = at + timedelta(days=self.rng.randint(1, 20))
                out.append(self._purchase(c, bought, extra=80))
        return out

    # --- envelopes ---------------------------------------------------------------------

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _emit(
        self,
        cls: type[Touchpoint],
        payload: Model,
        c: _Customer,
        at: datetime,
        channel: Channel | None = None,
        *,
        unit: str = "retail",
        campaign: Campaign | None = None,
    ) -> Touchpoint:
        channel = channel or cls.default_channel
        return cls(
            type=cls.type_name(),
            message_id=self._id(),
            occurred_at=at,
            source=Source(system=f"history-{channel.value}", business_unit=unit, channel=channel),
            subject=Subject(customer_id=c.customer_id),
            campaign=campaign,
            payload=payload,
        )


def history_events(
    customers: int = 300, years: int = 5, *, seed: int = 11, now: datetime | None = None
) -> Iterator[Touchpoint]:
    """The year to date and the ``years`` before it, oldest first; ``customers`` is the
    customer base at the start (it grows by ``PLANTED.growth`` a year)."""
    return History(customers, years, seed=seed, now=now or datetime.now(UTC)).events()
