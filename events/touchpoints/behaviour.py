"""What customers do on our web site and apps: pages, products, searches."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, model_validator

from events.envelope import Channel, Model, Name
from events.sensitivity import service
from events.touchpoints.base import (
    Currency,
    Key,
    Money,
    ShortText,
    Touchpoint,
    Url,
    amount_needs_currency,
    require_currency,
)


class WebPageViewedPayload(Model):
    url: Url = service()
    title: ShortText | None = service(None)
    referrer: Url | None = service(None)
    session_id: Name = service()
    seconds_on_page: int | None = service(None, ge=0, le=86_400)


class WebPageViewed(Touchpoint):
    """A page of our web site was viewed."""

    default_channel = Channel.WEB
    type: Literal["web.page_viewed"] = "web.page_viewed"
    payload: WebPageViewedPayload

    def summary(self) -> str:
        return f"Viewed page {self.payload.title or self.payload.url}"


class ProductViewedPayload(Model):
    model_config = ConfigDict(json_schema_extra=amount_needs_currency("price"))

    sku: Name = service()
    name: Name = service()
    category: Name = service()
    price: Money | None = service(None, description="Price shown at the time.")
    currency: Currency | None = service(None)
    url: Url | None = service(None)
    session_id: Name | None = service(None)

    @model_validator(mode="after")
    def _price_has_currency(self) -> ProductViewedPayload:
        require_currency(self.price, self.currency, "price")
        return self


class ProductViewed(Touchpoint):
    """A product's page or card was viewed."""

    default_channel = Channel.WEB
    type: Literal["product.viewed"] = "product.viewed"
    payload: ProductViewedPayload

    def summary(self) -> str:
        return f"Viewed product {self.payload.name} ({self.payload.category})"


class SearchPerformedPayload(Model):
    query: ShortText = service(personal=True)
    results: int = service(ge=0)
    filters: dict[Key, Name] = service(default_factory=dict, description="e.g. {'size': 'M'}.")
    session_id: Name | None = service(None)


class SearchPerformed(Touchpoint):
    """A search on our web site or app."""

    default_channel = Channel.WEB
    type: Literal["search.performed"] = "search.performed"
    payload: SearchPerformedPayload

    def summary(self) -> str:
        return f"Searched for '{self.payload.query}' ({self.payload.results} results)"


TYPES: tuple[type[Touchpoint], ...] = (WebPageViewed, ProductViewed, SearchPerformed)
