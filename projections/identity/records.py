"""What identity resolution reads and reports: events resolved, customers, merges, changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from projections.identity.names import NameKey

# Fixed forever: every customer id born from an event is derived from it, so a replayed
# batch stamps the same ids it stamped the first time.
TOUCHLOG_NAMESPACE = uuid.UUID("eeeee7e5-cc70-4a1c-b1db-e919fd144bf0")


def _aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")


@dataclass(frozen=True, slots=True)
class EventRef:
    """The event being resolved."""

    source_system: str
    message_id: str
    occurred_at: datetime

    def __reduce__(self) -> tuple[type[EventRef], tuple[Any, ...]]:
        # Pickled as its fields: helper processes send thousands a batch, and a slots
        # dataclass's default state (built by ``dataclasses.fields``) costs ~10x more.
        return (EventRef, (self.source_system, self.message_id, self.occurred_at))

    def __post_init__(self) -> None:
        _aware(self.occurred_at, "occurred_at")


def new_customer_id(ref: EventRef) -> str:
    """The id of a customer born from this event; the same event always gives the same id."""
    return str(uuid.uuid5(TOUCHLOG_NAMESPACE, f"{ref.source_system}/{ref.message_id}"))


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as the graph knows it. The older of two has the smaller ``age``."""

    customer_id: str
    born_at: datetime
    born_from: str  # message_id of the event that created it

    def __post_init__(self) -> None:
        _aware(self.born_at, "born_at")

    @property
    def age(self) -> tuple[datetime, str]:
        return (self.born_at, self.customer_id)


@dataclass(frozen=True, slots=True)
class Merge:
    survivor: str
    merged: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """What resolving one event decided; the graph has already applied it."""

    customer_id: str  # the surviving customer the event is stamped with
    new_customer: Customer | None
    new_links: tuple[tuple[str, str], ...]  # (identifier key, customer id)
    merges: tuple[Merge, ...]
    # (identifier key, or kind:raw for a value that never became one; reason)
    not_matched: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Link:
    """A link to persist: the identifier leads to the customer since ``ref``."""

    identifier_key: str
    customer_id: str
    ref: EventRef


@dataclass(frozen=True, slots=True)
class SharedMark:
    """An identifier found shared by people otherwise distinct: it matches nobody from
    ``ref`` on."""

    identifier_key: str
    reason: str
    ref: EventRef


@dataclass(frozen=True, slots=True)
class GraphRows:
    """Stored graph rows: the slice of the graph a batch can touch, as loaded."""

    links: list[tuple[str, str]]  # (identifier key, customer id)
    customers: list[Customer]
    merged_into: dict[str, str]  # merged -> into
    kept_apart: list[tuple[str, str]]
    shared: list[str] = field(default_factory=list)  # identifier keys found shared
    names: dict[str, NameKey] = field(default_factory=dict)  # customer -> its first name


@dataclass(frozen=True, slots=True)
class GraphChanges:
    """Net changes since construction (or the last ``clear_changes``), in a stable order."""

    customers: tuple[Customer, ...]  # created
    links_added: tuple[Link, ...]
    links_removed: tuple[tuple[str, str], ...]  # (identifier key, customer id)
    merged_into: tuple[tuple[str, str], ...]  # (merged, into): insert or replace
    unmerged: tuple[str, ...]  # merged_into rows a split deleted
    kept_apart: tuple[tuple[str, str], ...]  # pairs, smaller id first
    merges: tuple[Merge, ...]  # every merge made, in order, with its reason
    shared: tuple[SharedMark, ...] = ()  # identifiers found shared, in order
    names: tuple[tuple[str, NameKey], ...] = ()  # (customer id, name) first given

    def __bool__(self) -> bool:
        return any(
            (
                self.customers,
                self.links_added,
                self.links_removed,
                self.merged_into,
                self.unmerged,
                self.kept_apart,
                self.merges,
                self.shared,
                self.names,
            )
        )
