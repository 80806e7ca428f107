"""Loyalty and marketing: reward points, competitions, responses to campaigns."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, model_validator

from events.envelope import E164, Channel, Model, Name
from events.sensitivity import essential, service
from events.touchpoints.base import (
    Currency,
    Money,
    ShortText,
    Touchpoint,
    Url,
    amount_needs_currency,
    require_currency,
)


class RewardsEarnedPayload(Model):
    programme: Name = service()
    member_number: Name = essential(description="Loyalty card or membership number.")
    points: int = service(ge=1, le=10_000_000)
    reason: Name = service(description="e.g. 'purchase', 'birthday bonus', 'review written'.")
    order_id: Name | None = service(None)
    balance_after: int | None = service(None, ge=0)
    expires_on: date | None = service(None)


class RewardsEarned(Touchpoint):
    """Loyalty points credited to the customer."""

    default_channel = Channel.STORE
    type: Literal["rewards.earned"] = "rewards.earned"
    payload: RewardsEarnedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Earned {p.points} {p.programme} points ({p.reason})"


class RewardsRedeemedPayload(Model):
    model_config = ConfigDict(json_schema_extra=amount_needs_currency("reward_value"))

    programme: Name = service()
    member_number: Name = essential(description="Loyalty card or membership number.")
    points: int = service(ge=1, le=10_000_000)
    reward: Name = service(description="What the points bought, e.g. '£10 voucher'.")
    reward_value: Money | None = service(None)
    currency: Currency | None = service(None)
    balance_after: int | None = service(None, ge=0)

    @model_validator(mode="after")
    def _value_has_currency(self) -> RewardsRedeemedPayload:
        require_currency(self.reward_value, self.currency, "reward_value")
        return self


class RewardsRedeemed(Touchpoint):
    """Loyalty points spent."""

    default_channel = Channel.STORE
    type: Literal["rewards.redeemed"] = "rewards.redeemed"
    payload: RewardsRedeemedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Redeemed {p.points} {p.programme} points for {p.reward}"


class CompetitionEnteredPayload(Model):
    competition_id: Name = service()
    competition_name: Name = service()
    answer: ShortText | None = service(None, personal=True)
    entry_code: Name | None = service(None, description="Code from a receipt or a pack.")


class CompetitionEntered(Touchpoint):
    """The customer entered a competition or prize draw."""

    default_channel = Channel.WEB
    type: Literal["competition.entered"] = "competition.entered"
    payload: CompetitionEnteredPayload

    def summary(self) -> str:
        return f"Entered competition '{self.payload.competition_name}'"


class CampaignResponse(StrEnum):
    CLICKED = "clicked"
    CALLED = "called"
    REPLIED = "replied"
    VISITED_STORE = "visited_store"
    REDEEMED_OFFER = "redeemed_offer"
    REQUESTED_INFORMATION = "requested_information"


class CampaignRespondedPayload(Model):
    campaign_code: Name = service()
    response: CampaignResponse = service()
    reference_number: Name | None = service(None, description="Reference printed on a mailer.")
    campaign_phone_number: E164 | None = service(None, description="The campaign's own line.")
    landing_url: Url | None = service(None)
    offer_code: Name | None = service(None)


class CampaignResponded(Touchpoint):
    """The customer answered a campaign: a mailer, a campaign line, a landing page."""

    default_channel = Channel.MAIL
    type: Literal["campaign.responded"] = "campaign.responded"
    payload: CampaignRespondedPayload

    def summary(self) -> str:
        p = self.payload
        return f"Responded to campaign {p.campaign_code}: {p.response.value.replace('_', ' ')}"


TYPES: tuple[type[Touchpoint], ...] = (
    RewardsEarned,
    RewardsRedeemed,
    CompetitionEntered,
    CampaignResponded,
)
