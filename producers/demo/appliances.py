"""The demo's appliances: a warranty registered after the sale, a service visit later."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from events import Channel
from events import touchpoints as t
from producers.demo.story import Story


def aftercare(story: Story, order: t.PurchaseCompleted) -> None:
    rng, line = story.rng, order.payload.lines[0]
    serial = f"SN{rng.randint(10**9, 10**10 - 1)}"
    registered_at = story.moment(order.occurred_at, timedelta(days=30))
    story.emit(
        t.WarrantyRegistered,
        t.WarrantyRegisteredPayload(
            warranty_id=f"W-{story.new_id()[:8].upper()}",
            product_sku=line.sku,
            product_name=line.name or line.sku,
            serial_number=serial,
            purchase_date=order.occurred_at.date(),
            place_of_purchase="Hollis & Marr " + ("store" if order.payload.store_id else "online"),
            store_id=order.payload.store_id,
            warranty_months=24,
            extended=rng.random() < 0.3,
        ),
        at=registered_at,
        unit="appliances",
        channel=rng.choice((Channel.WEB, Channel.KIOSK, Channel.MAIL)),
        system="warranty-portal",
        after=order,
    )
    serviced_at = order.occurred_at + timedelta(days=rng.randint(200, 420))
    if story.in_past(serviced_at):
        done = serviced_at.date()
        charge = rng.choice((None, Decimal("79.00")))
        story.emit(
            t.ServiceCompleted,
            t.ServiceCompletedPayload(
                job_id=f"J-{rng.randint(10000, 99999)}",
                service_type=f"{line.category} service visit",
                product_sku=line.sku,
                serial_number=serial,
                technician_id=f"tech-{rng.randint(1, 25):02d}",
                completed_on=done,
                next_due_on=done + timedelta(days=365),
                charge=charge,
                currency=story.customer.currency if charge else None,
            ),
            at=serviced_at,
            unit="appliances",
            system="field-service",
            after=order,
        )
