"""Sensitivity tiers carried by every payload field (DESIGN.md, "Data is personal").

A field's tier lives in its JSON Schema metadata as ``x-sensitivity`` so that the
read side can filter by role and non-Python producers can see it in ``schemas/``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo


class Tier(StrEnum):
    ESSENTIAL = "essential"    # name, title, contact details
    SERVICE = "service"        # purchase and payment history, tenure, complaints
    RESTRICTED = "restricted"  # age, income, family, education, health


SCHEMA_KEY = "x-sensitivity"


def tiered(tier: Tier, default: Any = ..., **kwargs: Any) -> Any:
    """A pydantic ``Field`` tagged with its sensitivity tier."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[SCHEMA_KEY] = tier.value
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
