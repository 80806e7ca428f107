"""What the trigger rules remember about one customer, between events (immutable).

Kept by the faust app in a table keyed by ``customer_id`` (its changelog is the
durable copy, see ``state_codec``). Every change returns a new state. Everything
in it is bounded: views and caps are pruned to their windows, remembered ids to a
fixed count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypedDict, Unpack

RECENT_IDS = 64  # events remembered per customer: a republished duplicate arrives close by
FIRED_KEPT = 256  # trigger ids remembered per customer: a replayed timer finds its own


# The records inside a state are named tuples: as immutable as frozen dataclasses and
# several times faster to build (a lapse-risk timer is rebuilt on every activity).
class Timer(NamedTuple):
    """A rule waiting for a moment: at ``due``, check whether it should fire."""

    due: datetime
    rule: str
    key: str  # what it waits about: a category, a case, a product
    since: datetime  # when the condition started (e.g. the purchase)
    evidence: tuple[str, ...]
    note: str = ""  # details for the reason (a due date, a severity)


class Consent(NamedTuple):
    status: str
    at: datetime
    expires_at: datetime | None = None


class Complaint(NamedTuple):
    opened_at: datetime
    severity: str
    category: str
    message_id: str


class Changes(TypedDict, total=False):
    """What ``CustomerState.evolve`` may change: any of its fields, typed as there."""

    partition: int
    last_offset: int
    recent_ids: Mapping[int, None]
    last_activity: datetime | None
    last_activity_id: str | None
    purchases: int
    spend: float
    bought: Mapping[str, datetime]
    views: Mapping[str, tuple[tuple[datetime, str], ...]]
    consents: Mapping[str, Consent]
    reachable: frozenset[str]
    preferred_channel: str | None
    complaints: Mapping[str, Complaint]
    timers: tuple[Timer, ...]
    fired: Mapping[str, datetime]
    sent: Mapping[str, tuple[datetime, ...]]
    crossed: frozenset[str]
    merged_into: str | None


# Not slotted: ``evolve`` copies the instance dict, several times faster than
# ``dataclasses.replace`` on a frozen class (which runs ``__init__``); the engine
# makes a few new states per event.
@dataclass(frozen=True)
class CustomerState:
    partition: int = -1  # of ``touchlog.resolved`` (and the table) the customer lives in
    last_offset: int = -1  # in that partition: an event replayed after a restart is skipped
    # Digests of the ids (``id_digest``), oldest first (a set): 8 bytes each in the changelog.
    recent_ids: Mapping[int, None] = field(default_factory=dict)
    last_activity: datetime | None = None
    last_activity_id: str | None = None
    purchases: int = 0
    spend: float = 0.0
    bought: Mapping[str, datetime] = field(default_factory=dict)  # category → last purchase
    views: Mapping[str, tuple[tuple[datetime, str], ...]] = field(default_factory=dict)
    consents: Mapping[str, Consent] = field(default_factory=dict)  # "purpose|channel" (* = all)
    reachable: frozenset[str] = frozenset()  # channels we hold contact details for
    preferred_channel: str | None = None
    complaints: Mapping[str, Complaint] = field(default_factory=dict)  # open ones, by case id
    timers: tuple[Timer, ...] = ()
    fired: Mapping[str, datetime] = field(default_factory=dict)  # trigger id → created
    sent: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)  # channel → sent
    crossed: frozenset[str] = frozenset()  # threshold rules already fired (VIP)
    merged_into: str | None = None

    def evolve(self, **changes: Unpack[Changes]) -> CustomerState:
        """A copy with ``changes``; the mappings are never changed in place, so sharing
        them between states is safe."""
        new = object.__new__(CustomerState)
        fields = new.__dict__
        fields.update(self.__dict__)
        fields.update(changes)
        return new

    # -- events and triggers already seen ----------------------------------------------

    def has_seen(self, message_id: str) -> bool:
        return id_digest(message_id) in self.recent_ids

    def noting(self, message_id: str) -> CustomerState:
        """Remembers a message as applied."""
        return self.evolve(recent_ids=remembered_ids(self.recent_ids, message_id))

    def remembering_fired(self, trigger_id: str, at: datetime) -> CustomerState:
        return self.evolve(fired=_newest_fired({**self.fired, trigger_id: at}))

    # -- timers ------------------------------------------------------------------------

    def waiting(self, rule: str, key: str) -> bool:
        return any(t.rule == rule and t.key == key for t in self.timers)

    def with_timer(self, timer: Timer) -> CustomerState:
        return self.evolve(timers=(*self.timers, timer))

    def replacing_timer(self, timer: Timer) -> CustomerState:
        """The timer instead of any other of its rule about its key."""
        rule, key = timer.rule, timer.key
        others = [t for t in self.timers if t.rule != rule or t.key != key]
        others.append(timer)
        return self.evolve(timers=tuple(others))

    def without_timer(self, rule: str, key: str) -> CustomerState:
        kept = tuple(t for t in self.timers if not (t.rule == rule and t.key == key))
        return self if len(kept) == len(self.timers) else self.evolve(timers=kept)

    def next_due(self) -> datetime | None:
        return min((t.due for t in self.timers), default=None)

    def open_complaints(self) -> list[str]:
        return sorted(self.complaints)

    # -- merges --------------------------------------------------------------------------

    def merged_away(self, survivor: str) -> CustomerState:
        """Merged into ``survivor``, which now waits for what this customer waited for."""
        return self.evolve(merged_into=survivor, timers=())

    def absorb(self, merged: CustomerState) -> CustomerState:
        """This survivor's state with a merged customer's folded in (``customer.merged``)."""
        bought = dict(self.bought)
        for category, at in merged.bought.items():
            bought[category] = max(at, bought.get(category, at))
        consents = dict(self.consents)
        for key, consent in merged.consents.items():
            mine = consents.get(key)
            if mine is None or consent.at > mine.at:
                consents[key] = consent
        waiting = {(t.rule, t.key) for t in self.timers}
        state = self.evolve(
            purchases=self.purchases + merged.purchases,
            spend=self.spend + merged.spend,
            bought=bought,
            views=_merged_lists(self.views, merged.views),
            consents=consents,
            reachable=self.reachable | merged.reachable,
            preferred_channel=self.preferred_channel or merged.preferred_channel,
            complaints={**self.complaints, **merged.complaints},
            timers=(*self.timers, *(t for t in merged.timers if (t.rule, t.key) not in waiting)),
            fired=_newest_fired({**self.fired, **merged.fired}),
            sent=_merged_lists(self.sent, merged.sent),
            crossed=self.crossed | merged.crossed,
        )
        if merged.last_activity and (
            self.last_activity is None or merged.last_activity > self.last_activity
        ):
            state = state.evolve(
                last_activity=merged.last_activity, last_activity_id=merged.last_activity_id
            )
        return state


def id_digest(message_id: str) -> int:
    """What a remembered id is kept as: 64 bits of its BLAKE2b hash (two of a customer's
    64 newest ids colliding: ~1e-16)."""
    return int.from_bytes(hashlib.blake2b(message_id.encode(), digest_size=8).digest())


def remembered_ids(recent: Mapping[int, None], message_id: str) -> dict[int, None]:
    """The ids remembered once ``message_id`` is: the newest ``RECENT_IDS``. (A dict as an
    ordered set: a lookup per event in a tuple of 64 took longer than the event's rules.)"""
    ids = dict(recent)
    ids[id_digest(message_id)] = None
    if len(ids) > RECENT_IDS:
        del ids[next(iter(ids))]
    return ids


def _newest_fired(fired: dict[str, datetime]) -> dict[str, datetime]:
    if len(fired) > FIRED_KEPT:
        for old in sorted(fired, key=fired.__getitem__)[: len(fired) - FIRED_KEPT]:
            del fired[old]
    return fired


def _merged_lists(
    mine: Mapping[str, tuple[Any, ...]], theirs: Mapping[str, tuple[Any, ...]]
) -> dict[str, tuple[Any, ...]]:
    """Per key, both customers' moments (views, sends) in time order."""
    merged = dict(mine)
    for key, items in theirs.items():
        merged[key] = tuple(sorted((*merged.get(key, ()), *items)))
    return merged
