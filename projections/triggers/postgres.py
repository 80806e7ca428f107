"""The triggers' PostgreSQL tables, and the store the projection runner writes them with.

``triggers_v1`` is rebuilt from the trigger topics; what people did to a trigger
(``trigger_actions``) and what was sent to whom (``webhook_deliveries``,
``webhook_attempts``) are not, so a rebuild neither forgets an acknowledgement nor sends
a trigger twice. A trigger republished after a crash has the same ``trigger_id``: it is
stored, and enqueued for delivery, once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import TypeAdapter

from events.codec import Codec
from projections.db import Connection
from projections.triggers.model import Trigger
from projections.triggers.subscriptions import Subscription, subscribers_of
from projections.view import ViewHooks

TABLE = "triggers_v1"
ACTIONS = "trigger_actions"
DELIVERIES = "webhook_deliveries"
ATTEMPTS = "webhook_attempts"
WAKE_CHANNEL = "touchlog_webhooks"
"""Notified when deliveries are enqueued (on commit), so a dispatcher starts at once."""

TRIGGERS: Codec[Trigger] = Codec(TypeAdapter(Trigger), TypeAdapter(list[Trigger]))
"""Records of the trigger topics, for ``ProjectionRunner(..., codec=TRIGGERS)``."""

TRIGGERS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    trigger_id         text        PRIMARY KEY,
    customer_id        text        NOT NULL,
    rule               text        NOT NULL,
    rule_type          text        NOT NULL,
    kind               text        NOT NULL,
    audience           text        NOT NULL,
    channel            text,
    reason             text        NOT NULL,
    evidence           text[]      NOT NULL,
    offer              text,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    suppressed         text,
    suppressed_reason  text,
    status             text        NOT NULL
        CHECK (status IN ('open', 'suppressed', 'acknowledged', 'closed')),
    status_changed_at  timestamptz,
    recorded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {TABLE}_customer
    ON {TABLE} (customer_id, created_at DESC, trigger_id DESC);
CREATE INDEX IF NOT EXISTS {TABLE}_rule_status
    ON {TABLE} (rule, status, created_at DESC, trigger_id DESC);
CREATE INDEX IF NOT EXISTS {TABLE}_status
    ON {TABLE} (status, created_at DESC, trigger_id DESC);
COMMENT ON TABLE {TABLE} IS 'touchlog:personal customer=customer_id action=delete';
"""
"""The rebuilt table: one version per rebuild (``projections/versions.py``)."""

SHARED_SCHEMA = f"""
-- People's actions: no foreign key, they outlive a rebuild of {TABLE}.
CREATE TABLE IF NOT EXISTS {ACTIONS} (
    id          bigserial   PRIMARY KEY,
    trigger_id  text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('acknowledged', 'closed')),
    actor       text        NOT NULL,
    role        text        NOT NULL,
    note        text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {ACTIONS}_trigger ON {ACTIONS} (trigger_id, at, id);

CREATE TABLE IF NOT EXISTS {DELIVERIES} (
    trigger_id       text        NOT NULL,
    subscriber       text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    delivered_at     timestamptz,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trigger_id, subscriber)
);
CREATE INDEX IF NOT EXISTS {DELIVERIES}_due
    ON {DELIVERIES} (next_attempt_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS {ATTEMPTS} (
    trigger_id   text             NOT NULL,
    subscriber   text             NOT NULL,
    attempt      int              NOT NULL,
    at           timestamptz      NOT NULL,
    http_status  int,
    error        text,
    duration_ms  double precision NOT NULL,
    PRIMARY KEY (trigger_id, subscriber, attempt)
);
COMMENT ON TABLE {ACTIONS} IS 'touchlog:personal trigger=trigger_id action=delete';
COMMENT ON TABLE {DELIVERIES} IS 'touchlog:personal trigger=trigger_id action=delete';
COMMENT ON TABLE {ATTEMPTS} IS 'touchlog:personal trigger=trigger_id action=delete';
"""
"""What people and webhooks did: shared by every version, never rebuilt."""

SCHEMA = SHARED_SCHEMA + TRIGGERS_SCHEMA
"""Every trigger table, in the default schema (tests and one-off loads)."""

_COLUMNS = (
    "trigger_id",
    "customer_id",
    "rule",
    "rule_type",
    "kind",
    "audience",
    "channel",
    "reason",
    "evidence",
    "offer",
    "created_at",
    "expires_at",
    "suppressed",
    "suppressed_reason",
)
_RECORD = (
    "trigger_id text, customer_id text, rule text, rule_type text, kind text, "
    "audience text, channel text, reason text, evidence text[], offer text, "
    "created_at timestamptz, expires_at timestamptz, suppressed text, suppressed_reason text"
)
_COLS = ", ".join(_COLUMNS)

# A new row's status: suppressed, else what people last did to it (kept across rebuilds).
_WRITE = f"""
WITH incoming AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t({_RECORD})
), latest AS (
    SELECT DISTINCT ON (a.trigger_id) a.trigger_id, a.action, a.at
    FROM {ACTIONS} a JOIN incoming USING (trigger_id)
    ORDER BY a.trigger_id, a.at DESC, a.id DESC
), stored AS (
    INSERT INTO {TABLE} ({_COLS}, status, status_changed_at)
    SELECT {", ".join(f"i.{c}" for c in _COLUMNS)},
           CASE WHEN i.suppressed IS NOT NULL THEN 'suppressed'
                ELSE coalesce(latest.action, 'open') END,
           latest.at
    FROM incoming i LEFT JOIN latest USING (trigger_id)
    ON CONFLICT (trigger_id) DO NOTHING
    RETURNING trigger_id
)
INSERT INTO {DELIVERIES} (trigger_id, subscriber)
SELECT d.trigger_id, d.subscriber
FROM jsonb_to_recordset($2::jsonb) AS d(trigger_id text, subscriber text)
JOIN stored USING (trigger_id)
ON CONFLICT DO NOTHING
RETURNING trigger_id
"""


@dataclass(frozen=True, slots=True)
class TriggerChanges:
    triggers: str
    """JSON array of the batch's triggers, each once."""
    deliveries: str
    """JSON array of {trigger_id, subscriber}: enqueued only if the trigger is new."""
    count: int


class TriggerStore(ViewHooks):
    """Triggers as the projection runner sees them: a batch of them becomes rows, and
    each new, unsuppressed trigger a pending delivery to every subscriber that wants it.

    Run one runner per trigger topic (emitted and suppressed): offsets are kept per
    (name, topic, partition), so both may use the same store and name.

    A marketing trigger's ``contact`` (sealed on the topic) is not stored: the API does
    not serve it, and a webhook reads the contact from the profile when it is sent
    (``projections.triggers.contact``) — the store holds no contact to erase.
    """

    def __init__(self, subscriptions: Sequence[Subscription] = (), *, name: str = TABLE) -> None:
        self.subscriptions = tuple(subscriptions)
        self.name = name

    schema = (TRIGGERS_SCHEMA,)
    shared_schema = (SHARED_SCHEMA,)

    def changes(self, triggers: Sequence[Trigger]) -> TriggerChanges:
        """Rows and deliveries as JSON (pure: runs while the previous batch is written)."""
        first: dict[str, Trigger] = {}
        for t in triggers:
            first.setdefault(t.trigger_id, t)
        unique = list(first.values())
        rows = [t.model_dump(mode="json", include=set(_COLUMNS)) for t in unique]
        deliveries = [
            {"trigger_id": t.trigger_id, "subscriber": name}
            for t in unique
            for name in subscribers_of(t, self.subscriptions)
        ]
        return TriggerChanges(json.dumps(rows), json.dumps(deliveries), len(unique))

    async def write(self, conn: Connection, changes: TriggerChanges) -> None:
        if not changes.count:
            return
        enqueued = await conn.fetch(_WRITE, changes.triggers, changes.deliveries)
        if enqueued:
            await conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)

    async def apply(self, conn: Connection, triggers: Sequence[Trigger]) -> None:
        """Store and enqueue in one go (tests and one-off loads)."""
        await self.write(conn, self.changes(triggers))
