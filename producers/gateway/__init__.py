"""The HTTP ingestion gateway: touchlog's envelope or Segment's tracking API, into the log.

``create_gateway(GatewayConfig(...))`` builds the FastAPI app; ``postgres.SCHEMA``
is its tables (write keys, accepted message ids); ``sources`` manages write keys.
"""

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
