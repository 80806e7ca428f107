"""Webhook subscribers, as configured in a YAML file (``TOUCHLOG_WEBHOOKS_FILE``)::

    - name: crm
      url: https://crm.example.com/hooks/touchlog
      secret: a-long-random-shared-secret
      rules: [cross-sell-tv, vip]          # optional: only these rules
      kinds: [marketing]                   # optional: marketing | service
      audiences: [marketing]               # optional: marketing | service | manager
      contact: true                        # optional: marketing triggers carry the channel's
                                           # consented contact (name + that detail only)

A filter left out matches every trigger; suppressed triggers are never delivered.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from events.documents import DocumentError
from projections.triggers.model import Audience, Kind, RuleName
from projections.triggers.subscriptions import Subscription

SubscriberName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class WebhookConfigError(DocumentError):  # names the file, the subscriber and the field
    """The webhook subscribers file is not valid."""


class Subscriber(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: SubscriberName
    url: HttpUrl
    secret: SecretStr = Field(min_length=16, description="Shared HMAC key (≥ 16 characters).")
    rules: tuple[RuleName, ...] | None = Field(None, min_length=1)
    kinds: tuple[Kind, ...] | None = Field(None, min_length=1)
    audiences: tuple[Audience, ...] | None = Field(None, min_length=1)
    contact: bool = Field(
        False,
        description="Marketing triggers carry the name and the one contact detail of their "
        "channel, if marketing is consented on it when sent (nothing more).",
    )

    @field_validator("secret")
    @classmethod
    def _not_blank(cls, secret: SecretStr) -> SecretStr:
        if not secret.get_secret_value().strip():
            raise ValueError("must not be blank")
        return secret

    def subscription(self) -> Subscription:
        return Subscription(
            self.name,
            None if self.rules is None else frozenset(self.rules),
            None if self.kinds is None else frozenset(self.kinds),
            None if self.audiences is None else frozenset(self.audiences),
        )


def _where(loc: tuple[int | str, ...], data: list[Any]) -> str:
    if not loc:
        return "(file)"
    index, *rest = loc
    who = f"subscriber {index}"
    if isinstance(index, int) and index < len(data) and isinstance(data[index], dict):
        name = data[index].get("name")
        if isinstance(name, str):
            who = f"subscriber {index} ({name})"
    return who + (": " + ".".join(str(p) for p in rest) if rest else "")


def parse_subscribers(data: Any, source: str = "webhooks") -> list[Subscriber]:
    """Subscribers from parsed YAML (a list of them); ``WebhookConfigError`` names each
    field at fault."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise WebhookConfigError(
            source,
            [
                "expected a list of subscribers ({name, url, secret, ...}), "
                f"got a {type(data).__name__}"
            ],
        )
    subscribers: list[Subscriber] = []
    problems: list[str] = []
    for index, item in enumerate(data):
        try:
            subscribers.append(Subscriber.model_validate(item))
        except ValidationError as exc:
            problems += [
                f"{_where((index, *e['loc']), data)}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
    if problems:
        raise WebhookConfigError(source, problems)
    names = [s.name for s in subscribers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise WebhookConfigError(source, [f"subscriber names must be unique: {', '.join(twice)}"])
    return subscribers
