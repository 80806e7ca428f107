"""The demo's shopping: browsing, purchases, returns and refunds, reward points."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from events import Channel
from events import touchpoints as t
from producers.demo.appliances import aftercare
from producers.demo.story import Story

PRODUCTS = {
    "retail": (
        ("SKU-HM-1042", "Linen tea towel set", "home", "12.50"),
        ("SKU-HM-3301", "Bamboo bath sheet", "home", "24.00"),
        ("SKU-KT-2231", "Cast-iron casserole 24cm", "kitchen", "89.00"),
        ("SKU-CL-7710", "Merino crew jumper", "clothing", "65.00"),
        ("SKU-CL-7720", "Waxed cotton jacket", "clothing", "149.00"),
        ("SKU-GD-5502", "Stainless trowel", "garden", "18.50"),
        ("SKU-TY-8801", "Wooden train set", "toys", "39.99"),
        ("SKU-BK-9901", "Seasonal cookbook", "books", "25.00"),
    ),
    "appliances": (
        ("SKU-AP-4410", "Washing machine 9kg", "laundry", "549.00"),
        ("SKU-AP-4420", "Dishwasher 60cm", "kitchen appliances", "429.00"),
        ("SKU-AP-4430", "Bean-to-cup coffee machine", "small appliances", "299.00"),
        ("SKU-AP-4440", "Cordless vacuum", "floorcare", "249.00"),
    ),
}
SEARCHES = ("linen", "jumper size m", "casserole", "washing machine", "gift for dad", "vacuum")
PROGRAMME = "Hollis Rewards"
POINTS_PER_UNIT = 10
"""Points earned per pound, euro or dollar spent."""


def browse(story: Story, unit: str = "retail") -> None:
    """A web or app session: pages, a product or two, perhaps a search."""
    rng = story.rng
    channel = rng.choice((Channel.WEB, Channel.WEB, Channel.APP))
    at, session = story.moment(), story.new_id()[:12]
    subject = story.subject(channel)
    site = "https://shop.example.com"
    for path, title in rng.sample(
        (("/", "Home"), ("/sale", "Sale"), ("/stores", "Our stores"), ("/delivery", "Delivery")), 2
    ):
        story.emit(
            t.WebPageViewed,
            t.WebPageViewedPayload(
                url=site + path,
                title=title,
                session_id=session,
                seconds_on_page=rng.randint(3, 240),
            ),
            at=at,
            unit=unit,
            channel=channel,
            subject=subject,
        )
        at += timedelta(seconds=rng.randint(20, 200))
    sku, name, category, price = rng.choice(PRODUCTS[unit])
    story.emit(
        t.ProductViewed,
        t.ProductViewedPayload(
            sku=sku,
            name=name,
            category=category,
            price=Decimal(price),
            currency=story.customer.currency,
            url=f"{site}/p/{sku.lower()}",
            session_id=session,
        ),
        at=at,
        unit=unit,
        channel=channel,
        subject=subject,
    )
    # A tracked event the catalogue has no type for: kept as sent (e.g. via the gateway).
    story.emit(
        t.EventTracked,
        t.EventTrackedPayload(
            name="Wishlist Added", properties={"sku": sku, "session_id": session}
        ),
        at=at + timedelta(seconds=15),
        unit=unit,
        channel=channel,
        subject=subject,
    )
    if story.chance(0.6):
        query = rng.choice(SEARCHES)
        filters = {"size": "M"} if "size" in query else {}
        story.emit(
            t.SearchPerformed,
            t.SearchPerformedPayload(
                query=query, results=rng.randint(0, 60), filters=filters, session_id=session
            ),
            at=at + timedelta(seconds=30),
            unit=unit,
            channel=channel,
            subject=subject,
        )


def purchase(story: Story, unit: str) -> t.PurchaseCompleted:
    """An order, its reward points, sometimes a return and refund; appliances get warranties."""
    rng, c = story.rng, story.customer
    picks = rng.sample(PRODUCTS[unit], 1 if unit == "appliances" else rng.randint(1, 3))
    lines = tuple(
        t.OrderLine(
            sku=s, name=n, category=cat, quantity=rng.choice((1, 1, 1, 2)), unit_price=Decimal(p)
        )
        for s, n, cat, p in picks
    )
    gross = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    promo = rng.choice((None, None, None, "SPRING10"))
    total = (gross * Decimal("0.9")).quantize(Decimal("0.01")) if promo else gross
    in_store = rng.random() < 0.5
    channel = Channel.STORE if in_store else rng.choice((Channel.WEB, Channel.APP))
    order = story.emit(
        t.PurchaseCompleted,
        t.PurchaseCompletedPayload(
            order_id=f"O-{story.new_id()[:8].upper()}",
            lines=lines,
            currency=c.currency,
            total=total,
            payment_method=rng.choice(tuple(t.PaymentMethod)[:3])
            if in_store
            else t.PaymentMethod.CARD,
            promotion_code=promo,
            store_id=f"ST-{rng.randint(1, 40):03d}" if in_store else None,
        ),
        at=story.moment(),
        unit=unit,
        channel=channel,
    )
    if c.loyalty_number:
        story.emit(
            t.RewardsEarned,
            t.RewardsEarnedPayload(
                programme=PROGRAMME,
                member_number=c.loyalty_number,
                points=int(total * POINTS_PER_UNIT),
                reason="purchase",
                order_id=order.payload.order_id,
            ),
            at=order.occurred_at + timedelta(seconds=5),
            unit="group",
            system="loyalty-platform",
            channel=channel,
            after=order,
        )
    if story.chance(0.15):
        _return(story, order)
    if unit == "appliances":
        aftercare(story, order)
    return order


def _return(story: Story, order: t.PurchaseCompleted) -> None:
    rng, line = story.rng, story.rng.choice(order.payload.lines)
    at = story.moment(order.occurred_at, timedelta(days=25))
    returned = story.emit(
        t.OrderReturned,
        t.OrderReturnedPayload(
            return_id=f"RT-{story.new_id()[:8].upper()}",
            order_id=order.payload.order_id,
            lines=(
                t.ReturnedLine(sku=line.sku, quantity=1, reason=rng.choice(tuple(t.ReturnReason))),
            ),
            store_id=order.payload.store_id,
        ),
        at=at,
        unit=order.source.business_unit,
        channel=order.source.channel if order.source.channel is Channel.STORE else Channel.MAIL,
        after=order,
    )
    story.emit(
        t.RefundIssued,
        t.RefundIssuedPayload(
            refund_id=f"RF-{story.new_id()[:8].upper()}",
            amount=line.unit_price,
            currency=order.payload.currency,
            method=t.PaymentMethod.CARD,
            reason="return",
            order_id=order.payload.order_id,
            return_id=returned.payload.return_id,
        ),
        at=at + timedelta(hours=rng.randint(1, 72)),
        unit=order.source.business_unit,
        channel=Channel.STORE,
        system="payments",
        subject=order.subject,
        after=returned,
    )


def redeem(story: Story) -> None:
    """A voucher bought with points the customer has: the balance never goes below zero,
    then or later (points earned only add; other redemptions are counted)."""
    c = story.customer
    if not c.loyalty_number:
        return
    wanted = story.rng.choice((500, 1000, 2000))
    at = story.moment()
    earned = [e.occurred_at for e in story.events if isinstance(e, t.RewardsEarned)]
    for when in (at, story.moment(max(earned, default=c.since))):
        points = next((p for p in (wanted, 500) if _affordable(story, when, p)), None)
        if points is not None:
            break
    else:
        return
    story.emit(
        t.RewardsRedeemed,
        t.RewardsRedeemedPayload(
            programme=PROGRAMME,
            member_number=c.loyalty_number,
            points=points,
            reward=f"{points // 100} {c.currency} voucher",
            reward_value=Decimal(points // 100),
            currency=c.currency,
        ),
        at=when,
        unit="group",
        system="loyalty-platform",
    )


def _affordable(story: Story, at: datetime, points: int) -> bool:
    """Whether redeeming ``points`` at ``at`` keeps the balance at or above zero throughout."""
    moves = [
        (e.occurred_at, e.payload.points if isinstance(e, t.RewardsEarned) else -e.payload.points)
        for e in story.events
        if isinstance(e, t.RewardsEarned | t.RewardsRedeemed)
    ]
    balance = 0
    # At the same instant, points are earned before they are spent.
    for _, delta in sorted([*moves, (at, -points)], key=lambda move: (move[0], -move[1])):
        balance += delta
        if balance < 0:
            return False
    return True
