"""The HTTP ingestion gateway: touchlog's envelope or Segment's tracking API, into the log.

``create_gateway(GatewayConfig(...))`` builds the FastAPI app; ``postgres.SCHEMA``
is its tables (write keys, accepted message ids); ``sources`` manages write keys.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from producers.gateway.app import GatewayConfig, create_gateway
    from producers.gateway.limits import Limits
    from producers.gateway.postgres import SCHEMA
    from producers.gateway.track_rules import BUILTIN, TrackRule, read_rules

__all__ = [
    "BUILTIN",
    "SCHEMA",
    "GatewayConfig",
    "Limits",
    "TrackRule",
    "create_gateway",
    "read_rules",
]

_HOMES = {
    "GatewayConfig": "app",
    "create_gateway": "app",
    "Limits": "limits",
    "SCHEMA": "postgres",
    "BUILTIN": "track_rules",
    "TrackRule": "track_rules",
    "read_rules": "track_rules",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: the stages need the gateway's tables, not its web framework
    # (a rebuild's worker process starts some 0.25 s sooner).
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"producers.gateway.{home}"), name)
