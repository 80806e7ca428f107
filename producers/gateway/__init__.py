"""The HTTP ingestion gateway: touchlog's envelope or Segment's tracking API, into the log.

``create_gateway(GatewayConfig(...))`` builds the FastAPI app; ``postgres.create_tables``
creates its tables (write keys, accepted message ids); ``sources`` manages write keys.
"""

from producers.gateway.app import GatewayConfig, create_gateway
from producers.gateway.limits import Limits
from producers.gateway.postgres import create_tables
from producers.gateway.track_rules import BUILTIN, TrackRule, load_rules

__all__ = [
    "BUILTIN",
    "GatewayConfig",
    "Limits",
    "TrackRule",
    "create_gateway",
    "create_tables",
    "load_rules",
]
