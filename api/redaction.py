"""Payloads cut down to the tiers a caller may read, field by field, from the schemas' tags.

A field whose tier is not readable is dropped, with everything under it; a field nobody
tagged (which the contracts forbid) is dropped too: unknown means not served.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from events import EVENT_TYPES, Tier, field_tiers
from projections.profile.fields import BY_NAME


@dataclass(slots=True)
class Redacted:
    payload: dict[str, Any]
    served: set[str] = field(default_factory=set)
    """Dotted paths served above the essential tier (for the access audit)."""
    withheld: set[str] = field(default_factory=set)


@functools.cache
def _tiers(event_type: str) -> dict[str, Tier | None]:
    payload: type[BaseModel] = EVENT_TYPES[event_type].model_fields["payload"].annotation  # type: ignore[assignment]
    return field_tiers(payload)


def redact(event_type: str, payload: dict[str, Any], readable: frozenset[Tier]) -> Redacted:
    tiers = _tiers(event_type) if event_type in EVENT_TYPES else {}
    nested = {path.rpartition(".")[0] for path in tiers if "." in path}
    result = Redacted({})

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, list):
            return [walk(item, path) for item in value]
        if isinstance(value, dict) and path in nested:
            return {
                k: v
                for k, v in ((k, visit(v, f"{path}.{k}")) for k, v in value.items())
                if v is not _DROP
            }
        return value

    def visit(value: Any, path: str) -> Any:
        tier = tiers.get(path)
        if tier is None or tier not in readable:
            result.withheld.add(path)
            return _DROP
        if tier is not Tier.ESSENTIAL:
            result.served.add(path)
        return walk(value, path)

    for name, value in payload.items():
        kept = visit(value, name)
        if kept is not _DROP:
            result.payload[name] = kept
    return result


_DROP = object()


def redact_entry(
    entry: dict[str, Any], readable: frozenset[Tier]
) -> tuple[dict[str, Any], set[str]]:
    """A timeline entry cut to the readable tiers, and what it served above the essential
    tier (``<type>.<path>``, for the access audit). Its summary and campaign code are
    built from service fields: served with the service tier only."""
    event_type = entry["type"]
    cut = redact(event_type, json.loads(entry["payload"]), readable)
    served = {f"{event_type}.{path}" for path in cut.served}
    service = Tier.SERVICE in readable
    summary = entry["summary"] if service else None
    if summary is not None:
        served.add(f"{event_type}.summary")
    campaign = entry["campaign_code"] if service else None
    return {**entry, "summary": summary, "campaign_code": campaign, "payload": cut.payload}, served


_ORDER = (Tier.ESSENTIAL, Tier.SERVICE, Tier.RESTRICTED)


def tier_of(served: str) -> Tier:
    """The tier of something a read served: a profile field (``nps``) or a timeline path
    (``purchase.completed.total``, ``call.logged.summary``). Anything unrecognised counts
    as the service tier: an audit never under-states what left."""
    if served in BY_NAME:
        return BY_NAME[served].tier
    for event_type in EVENT_TYPES:
        if served.startswith(f"{event_type}."):
            path = served.removeprefix(f"{event_type}.")
            if path in ("summary", "campaign_code"):
                return Tier.SERVICE
            return _tiers(event_type).get(path) or Tier.SERVICE
    return Tier.SERVICE


def highest_tier(served: Iterable[str]) -> Tier:
    """The highest tier among what a read served (essential if nothing above it)."""
    return max((tier_of(name) for name in served), key=_ORDER.index, default=Tier.ESSENTIAL)
