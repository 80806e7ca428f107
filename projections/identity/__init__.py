"""The identity graph: which customer each event is about, across business units.

Pure logic only; the PostgreSQL adapter loads a slice of the graph, resolves a batch
and persists the changes.
"""

from projections.identity.graph import IdentityGraph
from projections.identity.identifiers import (
    Identifier,
    IdentifierKind,
    normalise,
    normalise_email,
    normalise_external_id,
    normalise_phone,
)
from projections.identity.records import (
    TOUCHLOG_NAMESPACE,
    Customer,
    EventRef,
    GraphChanges,
    Link,
    Merge,
    Resolution,
    new_customer_id,
)
from projections.identity.rules import (
    DEFAULT_BLOCKLIST,
    DEFAULT_MAX_CUSTOMERS,
    DEFAULT_MAX_PER_CUSTOMER,
    IdentityRules,
    Rejected,
    identifiers_of,
    limit_group,
)

__all__ = [
    "DEFAULT_BLOCKLIST",
    "DEFAULT_MAX_CUSTOMERS",
    "DEFAULT_MAX_PER_CUSTOMER",
    "TOUCHLOG_NAMESPACE",
    "Customer",
    "EventRef",
    "GraphChanges",
    "Identifier",
    "IdentifierKind",
    "IdentityGraph",
    "IdentityRules",
    "Link",
    "Merge",
    "Rejected",
    "Resolution",
    "identifiers_of",
    "limit_group",
    "new_customer_id",
    "normalise",
    "normalise_email",
    "normalise_external_id",
    "normalise_phone",
]
