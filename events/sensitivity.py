"""Sensitivity tiers carried by every payload field (DESIGN.md, "The event envelope").

A field's tier lives in its JSON Schema metadata as ``x-sensitivity`` so that the
read side can filter by role and non-Python producers can see it in ``schemas/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any, get_args

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo


class Tier(StrEnum):
    ESSENTIAL = "essential"  # name, title, contact details
    SERVICE = "service"  # purchase and payment history, tenure, complaints
    RESTRICTED = "restricted"  # age, income, family, education, health


SCHEMA_KEY = "x-sensitivity"
PERSONAL_KEY = "x-personal"
"""Whether a field is personal data, sealed in the log with the data subject's key
(docs/PRIVACY.md). Essential and restricted fields are personal unless marked otherwise
(a consent's purpose, a touchlog customer id); service fields are not, unless they are
free text, where a customer's words can say anything about them."""


def tiered(tier: Tier, default: Any = ..., *, personal: bool | None = None, **kwargs: Any) -> Any:
    """A pydantic ``Field`` tagged with its sensitivity tier, and whether it is personal
    when that differs from the tier's rule (``is_personal``)."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[SCHEMA_KEY] = tier.value
    if personal is not None and personal != (tier is not Tier.SERVICE):
        extra[PERSONAL_KEY] = personal
    return Field(default, json_schema_extra=extra, **kwargs)


def essential(default: Any = ..., **kwargs: Any) -> Any:
    return tiered(Tier.ESSENTIAL, default, **kwargs)


def service(default: Any = ..., **kwargs: Any) -> Any:
    return tiered(Tier.SERVICE, default, **kwargs)


def restricted(default: Any = ..., **kwargs: Any) -> Any:
    return tiered(Tier.RESTRICTED, default, **kwargs)


def tier_of(field: FieldInfo) -> Tier | None:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and SCHEMA_KEY in extra:
        return Tier(str(extra[SCHEMA_KEY]))
    return None


def is_personal(field: FieldInfo) -> bool:
    """Personal data: sealed with the subject's key before it reaches the log."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and PERSONAL_KEY in extra:
        return bool(extra[PERSONAL_KEY])
    tier = tier_of(field)
    return tier is not None and tier is not Tier.SERVICE


def field_tiers(model: type[BaseModel], prefix: str = "") -> dict[str, Tier | None]:
    """The tier of every field of ``model``, nested models included, by dotted path.

    A field holding models (directly, in a tuple, a dict or a union) contributes its
    own tier and, under its name, the tiers of the nested model's fields.
    """
    tiers: dict[str, Tier | None] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        tiers[path] = tier_of(field)
        for nested in _models_in(field.annotation):
            tiers.update(field_tiers(nested, prefix=f"{path}."))
    return tiers


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


ERASED = "[erased]"
"""What a personal field reads once the key it was sealed with is shredded (``privacy``):
views show it as it is and never refuse the event for it."""


def is_erased(value: Any) -> bool:
    return isinstance(value, str) and value == ERASED


SEALED_PATTERN = r"^tlx1\.[A-Za-z0-9_-]{8,120}\.[A-Za-z0-9_-]{16,}$"
"""A sealed value (``privacy.sealing``: ``tlx1.<key id>.<base64url(nonce ‖ ciphertext)>``),
which the published JSON Schemas accept in place of each personal field."""
SEALED_KEY = "x-sealed"
