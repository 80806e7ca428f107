"""Enquiries and forms: questions asked, contact-us forms, newsletter sign-ups."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints

from events.envelope import Channel, Email, Model, Name, Text
from events.rules import NO_NUL
from events.sensitivity import essential, service
from events.touchpoints.base import Key, Touchpoint, Url


class EnquiryReceivedPayload(Model):
    enquiry_id: Name = service()
    topic: Name = service(description="e.g. 'product availability', 'group booking'.")
    message: Text | None = service(
        None, personal=True, description="The enquiry in the customer's words."
    )
    product_sku: Name | None = service(None)
    preferred_contact: Channel | None = essential(
        None, personal=False, description="How the customer asked to be answered."
    )
    callback_requested: bool = service(False)


class EnquiryReceived(Touchpoint):
    """A customer asked a question, by any channel."""

    default_channel = Channel.WEB
    type: Literal["enquiry.received"] = "enquiry.received"
    payload: EnquiryReceivedPayload

    def summary(self) -> str:
        callback = ", callback requested" if self.payload.callback_requested else ""
        return f"Enquiry about {self.payload.topic}{callback}"


class WebFormSubmittedPayload(Model):
    form_id: Name = service(description="The form's identifier in the web CMS.")
    form_name: Name = service()
    page_url: Url | None = service(None)
    fields: dict[Key, Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]] = (
        essential(default_factory=dict, description="Answers given, by the form's field name.")
    )
    message: Text | None = essential(None, description="Free text the customer wrote.")


class WebFormSubmitted(Touchpoint):
    """A contact-us (or other) form sent from the web site."""

    default_channel = Channel.WEB
    type: Literal["web_form.submitted"] = "web_form.submitted"
    payload: WebFormSubmittedPayload

    def summary(self) -> str:
        return f"Submitted web form '{self.payload.form_name}'"


class NewsletterFrequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class NewsletterSubscribedPayload(Model):
    newsletter_id: Name = service()
    newsletter_name: Name = service()
    email: Email = essential(description="Address the newsletter is sent to.")
    frequency: NewsletterFrequency = service(NewsletterFrequency.WEEKLY)
    topics: tuple[Name, ...] = service(())
    double_opt_in: bool = service(
        False, description="Confirmed through the link sent to the address."
    )


class NewsletterSubscribed(Touchpoint):
    """The customer signed up for a newsletter."""

    default_channel = Channel.WEB
    type: Literal["newsletter.subscribed"] = "newsletter.subscribed"
    payload: NewsletterSubscribedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Subscribed to newsletter '{p.newsletter_name}' ({p.frequency.value})"


class UnsubscribeReason(StrEnum):
    TOO_FREQUENT = "too_frequent"
    NOT_RELEVANT = "not_relevant"
    NEVER_SIGNED_UP = "never_signed_up"
    NO_LONGER_INTERESTED = "no_longer_interested"
    OTHER = "other"


class NewsletterUnsubscribedPayload(Model):
    newsletter_id: Name = service()
    newsletter_name: Name = service()
    reason: UnsubscribeReason | None = service(None)
    comment: Text | None = service(None, personal=True)


class NewsletterUnsubscribed(Touchpoint):
    """The customer left a newsletter, usually through the link in one."""

    default_channel = Channel.EMAIL
    type: Literal["newsletter.unsubscribed"] = "newsletter.unsubscribed"
    payload: NewsletterUnsubscribedPayload

    def summary(self) -> str:
        p = self.payload
        reason = f" ({p.reason.value.replace('_', ' ')})" if p.reason else ""
        return f"Unsubscribed from newsletter '{p.newsletter_name}'{reason}"


TYPES: tuple[type[Touchpoint], ...] = (
    EnquiryReceived,
    WebFormSubmitted,
    NewsletterSubscribed,
    NewsletterUnsubscribed,
)
