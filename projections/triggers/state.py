"""What the trigger rules remember about one customer, between events.

Kept by the faust app in a table keyed by ``customer_id`` (its changelog is the
durable copy) and encoded as compact JSON. Everything in it is bounded: views
and caps are pruned to their windows, remembered ids to a fixed count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RECENT_IDS = 64  # events remembered per customer: a republished duplicate arrives close by
FIRED_KEPT = 256  # trigger ids remembered per customer: a replayed timer finds its own


@dataclass
class Timer:
    """A rule waiting for a moment: at ``due``, check whether it should fire."""

    due: datetime
    rule: str
    key: str  # what it waits about: a category, a case, a product
    since: datetime  # when the condition started (e.g. the purchase)
    evidence: list[str]
    note: str = ""  # details for the reason (a due date, a severity)


@dataclass
class Consent:
    status: str
    at: datetime
    expires_at: datetime | None = None


@dataclass
class Complaint:
    opened_at: datetime
    severity: str
    category: str
    message_id: str


@dataclass
class CustomerState:
    partition: int = -1  # of ``touchlog.resolved`` (and the table) the customer lives in
    last_offset: int = -1  # in that partition: an event replayed after a restart is skipped
    recent_ids: list[str] = field(default_factory=list)
    last_activity: datetime | None = None
    last_activity_id: str | None = None
    purchases: int = 0
    spend: float = 0.0
    bought: dict[str, datetime] = field(default_factory=dict)  # category → last purchase
    views: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    consents: dict[str, Consent] = field(default_factory=dict)  # "purpose|channel" (* = all)
    reachable: set[str] = field(default_factory=set)  # channels we hold contact details for
    preferred_channel: str | None = None
    complaints: dict[str, Complaint] = field(default_factory=dict)  # open ones, by case id
    timers: list[Timer] = field(default_factory=list)
    fired: dict[str, datetime] = field(default_factory=dict)  # trigger id → created
    sent: dict[str, list[datetime]] = field(default_factory=dict)  # channel → marketing sent
    crossed: set[str] = field(default_factory=set)  # threshold rules already fired (VIP)
    merged_into: str | None = None

    def seen(self, message_id: str) -> bool:
        """Whether the event was applied already; remembers it if not."""
        if message_id in self.recent_ids:
            return True
        self.recent_ids.append(message_id)
        del self.recent_ids[:-RECENT_IDS]
        return False

    def remember_fired(self, trigger_id: str, at: datetime) -> None:
        self.fired[trigger_id] = at
        if len(self.fired) > FIRED_KEPT:
            for old in sorted(self.fired, key=self.fired.__getitem__)[
                : len(self.fired) - FIRED_KEPT
            ]:
                del self.fired[old]

    def next_due(self) -> datetime | None:
        return min((t.due for t in self.timers), default=None)

    def open_complaints(self) -> list[str]:
        return sorted(self.complaints)

    # -- encoding: compact JSON, datetimes as ISO 8601 ----------------------------------

    def encode(self) -> bytes:
        return json.dumps(_plain(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> CustomerState:
        d = json.loads(raw)
        t = datetime.fromisoformat
        return cls(
            partition=d["partition"],
            last_offset=d["last_offset"],
            recent_ids=d["recent_ids"],
            last_activity=t(d["last_activity"]) if d["last_activity"] else None,
            last_activity_id=d["last_activity_id"],
            purchases=d["purchases"],
            spend=d["spend"],
            bought={k: t(v) for k, v in d["bought"].items()},
            views={k: [(t(at), i) for at, i in v] for k, v in d["views"].items()},
            consents={
                k: Consent(c["status"], t(c["at"]), t(c["expires_at"]) if c["expires_at"] else None)
                for k, c in d["consents"].items()
            },
            reachable=set(d["reachable"]),
            preferred_channel=d["preferred_channel"],
            complaints={
                k: Complaint(t(c["opened_at"]), c["severity"], c["category"], c["message_id"])
                for k, c in d["complaints"].items()
            },
            timers=[
                Timer(t(x["due"]), x["rule"], x["key"], t(x["since"]), x["evidence"], x["note"])
                for x in d["timers"]
            ],
            fired={k: t(v) for k, v in d["fired"].items()},
            sent={k: [t(at) for at in v] for k, v in d["sent"].items()},
            crossed=set(d["crossed"]),
            merged_into=d["merged_into"],
        )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, CustomerState | Timer | Consent | Complaint):
        return {k: _plain(v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
