"""The touchpoint base class and the value types that payloads share."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from events import rules
from events.envelope import Channel, Envelope, Model
from events.rules import NO_NUL
from events.upcasting import upcast

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217 code, e.g. ``EUR``."""

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    # pydantic's own schema for Decimal accepts any string; say what the reader accepts.
    WithJsonSchema(
        {
            "anyOf": [
                # multipleOf is exact arithmetic on the number as written (0.07 is 7 x 0.01);
                # a validator that divides binary floats may refuse some: send a string.
                {"type": "number", "minimum": 0, "maximum": 999_999_999_999.99, "multipleOf": 0.01},
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"},
            ],
            "description": "Amount, at most 2 decimal places; written as a decimal string.",
        }
    ),
]
Rating = Annotated[int, Field(ge=1, le=5)]
"""1 (worst) to 5 (best)."""
NpsScore = Annotated[int, Field(ge=0, le=10)]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=rules.URL)]
ShortText = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
"""A dictionary key: a form field's name, a search filter's name."""


class PaymentMethod(StrEnum):
    CARD = "card"
    CASH = "cash"
    INVOICE = "invoice"
    DIRECT_DEBIT = "direct_debit"
    VOUCHER = "voucher"
    WALLET = "wallet"
    LOYALTY_POINTS = "loyalty_points"


def require_currency(amount: Decimal | None, currency: str | None, what: str) -> None:
    if amount is not None and currency is None:
        raise ValueError(f"{what} needs a currency")


def amount_needs_currency(amount: str) -> JsonDict:
    """``require_currency`` in JSON Schema: an amount that is given needs a currency."""
    return {
        "if": {"required": [amount], "properties": {amount: {"not": {"type": "null"}}}},
        "then": {"required": ["currency"], "properties": {"currency": {"type": "string"}}},
    }


def _pin_type_and_version(schema: JsonDict, cls: type[Any]) -> None:
    """A type's contract names the type and the one version it describes, and demands both.

    The reader takes an absent version as the current one, which suits code built
    against the current model; a producer coding against a contract must state it, or
    its events would be misread once a newer version is published.
    """
    properties = schema.get("properties")
    version = properties.get("schema_version") if isinstance(properties, dict) else None
    if isinstance(version, dict):
        version["const"] = version["default"] = cls.current_version
        required = schema.setdefault("required", [])
        if isinstance(required, list):
            required.extend(name for name in ("type", "schema_version") if name not in required)


class Touchpoint(Envelope):
    """A touchpoint event: the envelope, a ``type`` and that type's typed ``payload``.

    Subclasses set ``default_channel`` (where such events usually come from),
    ``current_version`` when their payload has evolved, and ``summary()``.
    """

    model_config = ConfigDict(json_schema_extra=_pin_type_and_version)

    default_channel: ClassVar[Channel]
    type: str
    payload: Model

    @classmethod
    def type_name(cls) -> str:
        return str(cls.model_fields["type"].default)

    @model_validator(mode="before")
    @classmethod
    def _read_as_current_version(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        version = data.get("schema_version")
        if version == cls.current_version or (version is None and cls.current_version == 1):
            return data  # the common case: nothing to copy
        return upcast(data, cls.type_name(), cls.current_version)

    def summary(self) -> str:
        """One line for a rep's timeline. Shows no restricted-tier value."""
        raise NotImplementedError
