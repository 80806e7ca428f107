"""A customer's trigger state as compact JSON, for the faust table's changelog.

Written once per event, so it is built field by field rather than by walking the
dataclasses generically; datetimes are ISO 8601, sets sorted lists.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from projections.triggers.state import Complaint, Consent, CustomerState, Timer

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_state(s: CustomerState) -> bytes:
    iso = datetime.isoformat
    return _dumps(
        {
            "partition": s.partition,
            "last_offset": s.last_offset,
            "recent_ids": list(s.recent_ids),
            "last_activity": s.last_activity and iso(s.last_activity),
            "last_activity_id": s.last_activity_id,
            "purchases": s.purchases,
            "spend": s.spend,
            "bought": {k: iso(at) for k, at in s.bought.items()},
            "views": {k: [(iso(at), i) for at, i in v] for k, v in s.views.items()},
            "consents": {
                k: {
                    "status": c.status,
                    "at": iso(c.at),
                    "expires_at": c.expires_at and iso(c.expires_at),
                }
                for k, c in s.consents.items()
            },
            "reachable": sorted(s.reachable),
            "preferred_channel": s.preferred_channel,
            "complaints": {
                k: {
                    "opened_at": iso(c.opened_at),
                    "severity": c.severity,
                    "category": c.category,
                    "message_id": c.message_id,
                }
                for k, c in s.complaints.items()
            },
            "timers": [
                {
                    "due": iso(t.due),
                    "rule": t.rule,
                    "key": t.key,
                    "since": iso(t.since),
                    "evidence": t.evidence,
                    "note": t.note,
                }
                for t in s.timers
            ],
            "fired": {k: iso(at) for k, at in s.fired.items()},
            "sent": {k: [iso(at) for at in v] for k, v in s.sent.items()},
            "crossed": sorted(s.crossed),
            "merged_into": s.merged_into,
        }
    ).encode()


def decode_state(raw: bytes | str) -> CustomerState:
    d: dict[str, Any] = json.loads(raw)
    t = datetime.fromisoformat
    return CustomerState(
        partition=d["partition"],
        last_offset=d["last_offset"],
        recent_ids=dict.fromkeys(d["recent_ids"]),
        last_activity=t(d["last_activity"]) if d["last_activity"] else None,
        last_activity_id=d["last_activity_id"],
        purchases=d["purchases"],
        spend=d["spend"],
        bought={k: t(v) for k, v in d["bought"].items()},
        views={k: tuple((t(at), i) for at, i in v) for k, v in d["views"].items()},
        consents={
            k: Consent(c["status"], t(c["at"]), t(c["expires_at"]) if c["expires_at"] else None)
            for k, c in d["consents"].items()
        },
        reachable=frozenset(d["reachable"]),
        preferred_channel=d["preferred_channel"],
        complaints={
            k: Complaint(t(c["opened_at"]), c["severity"], c["category"], c["message_id"])
            for k, c in d["complaints"].items()
        },
        timers=tuple(
            Timer(t(x["due"]), x["rule"], x["key"], t(x["since"]), tuple(x["evidence"]), x["note"])
            for x in d["timers"]
        ),
        fired={k: t(v) for k, v in d["fired"].items()},
        sent={k: tuple(t(at) for at in v) for k, v in d["sent"].items()},
        crossed=frozenset(d["crossed"]),
        merged_into=d["merged_into"],
    )
