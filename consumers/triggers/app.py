"""The triggers app on faust-streaming: per-customer rule state in a table, timers, output.

One agent reads ``touchlog.resolved`` and the app's own command topic (same
partition count, so a customer's events, ticks and state share a partition).
The table ``customer_state`` (keyed by ``customer_id``) is backed by a compacted
changelog topic; on start or after a rebalance faust restores it from there,
then the index of pending timers is rebuilt from it, so no timer is lost.

Settings tuned for the embedded broker (DESIGN.md: faust's defaults take ~30 s
to get a first record there) are in ``faust_settings``; docs/TRIGGERS.md lists them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import faust
import structlog
from faust.exceptions import ProducerSendError
from faust.serializers import codecs

from consumers.outage import OUTAGE_TOLERANCE_S
from consumers.triggers.clock import Clock
from consumers.triggers.co_purchases import CoPurchaseFeed
from consumers.triggers.contacts import ContactFeed
from consumers.triggers.faust_kafka import TriggerApp
from consumers.triggers.worker import OutageTooLong, TriggerTopics, TriggerWorker
from events.codec import Codec
from events.resolved import RESOLVED, Resolved
from privacy.customer_keys import CustomerSealer
from privacy.runtime import Keys, OwnPool, SealingConfig, resolved_decoder
from projections.triggers import (
    CustomerState,
    TriggerEngine,
    TriggerRules,
    decode_state,
    encode_state,
)
from projections.triggers.rule import NOTHING_KNOWN, Known

log = structlog.get_logger()

APP_ID = "touchlog-triggers"
TABLE = "customer_state"


class _StateCodec(codecs.Codec):  # faust is untyped
    def _dumps(self, obj: Any) -> bytes:
        return encode_state(obj)

    def _loads(self, s: bytes) -> Any:
        return decode_state(s)


codecs.register("touchlog_state", _StateCodec())


class _StateTable(faust.Table[bytes, CustomerState]):
    """customer_id (bytes) → CustomerState, in its own compact encoding in the changelog.

    faust takes a table's serializers from its key and value types (a faust Record,
    else JSON) when the table is created; the state is a plain dataclass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.active_partitions: set[int] = set()

    def _serializer_from_type(self, typ: Any) -> Any:
        return "raw" if typ is bytes else "touchlog_state"

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        self.active_partitions = {tp.partition for tp in active_tps}
        await super().on_recovery_completed(active_tps, standby_tps)  # then on_recover


@dataclass(frozen=True)
class TriggerAppConfig:
    bootstrap_servers: str
    topics: TriggerTopics
    partitions: int
    data_dir: Path
    app_id: str = APP_ID
    manual_clock: bool = False  # time moves only with ``tick`` commands (tests, replays)
    tick_interval: float = 1.0  # seconds between checks for due timers
    commit_interval: float = 1.0
    published_tail: int = 10_000  # records read back per output partition after a restart
    # faust hard-codes a 1.5 s fetch wait: an event on a quiet partition waited for it.
    fetch_max_wait: float = 0.1  # seconds
    # TLS / SASL: aiokafka's options for touchlog's own clients, and the same as faust's
    # broker_credentials (both from touchlog.kafka_security).
    kafka_security: Mapping[str, Any] | None = None
    broker_credentials: Any = None
    # Cross-sell rules with ``offer: recommended`` read co-purchases from PostgreSQL,
    # reloaded in the background (``co_purchases``); no other rule needs a database.
    database_url: str = ""
    co_purchases_refresh: float = 60.0  # seconds
    co_purchases_min_customers: int = 5
    # Opens sealed records (docs/PRIVACY.md), with data keys from ``database_url``.
    sealing: SealingConfig | None = None
    # How long a step waits out an unreachable key store or broker (``TriggerWorker.step``).
    outage_tolerance_s: float = OUTAGE_TOLERANCE_S

    def co_purchase_feed(self, rules: TriggerRules) -> CoPurchaseFeed | None:
        """Where the co-purchase snapshot comes from, if a rule needs one (``ValueError``
        if one does and no database is configured)."""
        needing = rules.recommending()
        if not needing:
            return None
        if not self.database_url:
            raise ValueError(
                f"rule {needing[0]!r} offers 'recommended', which needs the co-purchase "
                "counts in PostgreSQL: set DATABASE_URL"
            )
        return CoPurchaseFeed(self.database_url, self.co_purchases_min_customers)


def faust_settings(config: TriggerAppConfig) -> dict[str, Any]:
    """faust settings for a small cluster or the embedded broker (see docs/TRIGGERS.md)."""
    return {
        "broker": [f"kafka://{server}" for server in config.bootstrap_servers.split(",")],
        "store": "memory://",  # rebuilt from the changelog at start; no RocksDB to install
        "datadir": str(config.data_dir),
        "web_enabled": False,
        "topic_partitions": config.partitions,
        "topic_disable_leader": True,  # no leader-election topic: timers tick per partition
        "consumer_auto_offset_reset": "earliest",
        # A new group gets its partitions in ~5 s on the embedded broker instead of ~30 s;
        # a dead worker's partitions move after 10 s instead of 60.
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 1.0,
        "broker_rebalance_timeout": 10.0,
        "stream_recovery_delay": 0.0,
        "broker_commit_interval": config.commit_interval,
        "broker_commit_every": 1000,
        "producer_acks": -1,  # acks=all
        "producer_linger": 0.005,  # a changelog record per event: batch them per request
        "table_standby_replicas": 0,
        "processing_guarantee": "at_least_once",  # exactly_once needs Kafka transactions
        "broker_credentials": config.broker_credentials,  # faust's producer, consumer, admin
    }


def build_app(
    config: TriggerAppConfig,
    rules: TriggerRules,
    published: set[str] | None = None,
    known: Known = NOTHING_KNOWN,
) -> tuple[faust.App, TriggerWorker]:
    """The app and its worker logic. ``published``: trigger ids already in the output
    topics that the restored state may not remember (see ``tail``); ``known``: the first
    co-purchase snapshot, loaded before the app starts and reloaded every
    ``co_purchases_refresh`` seconds if a rule offers ``recommended``."""
    app = TriggerApp(config.app_id, fetch_max_wait=config.fetch_max_wait, **faust_settings(config))
    topics = config.topics
    inputs = app.topic(
        topics.source,
        topics.commands,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=config.partitions,
    )
    states = _StateTable(app, name=TABLE, partitions=config.partitions, key_type=bytes)
    app.tables.add(states)
    clock = Clock(manual=config.manual_clock)

    async def send(topic: str, key: bytes | None, value: bytes, partition: int | None) -> None:
        await app.producer.send(topic, key, value, partition, None, None)

    decoder: Codec[Resolved] = RESOLVED
    contacts: ContactFeed | None = None
    if config.sealing is not None and config.database_url:
        own = OwnPool(config.database_url)  # opened on the first sealed record or contact
        keys = Keys.on(config.sealing, own)
        decoder = resolved_decoder(keys.opener)
        # Marketing triggers carry their channel's contact, sealed (consumers/triggers/contacts).
        sealer = CustomerSealer(keys.ring, own) if keys.sealer is not None else None
        contacts = ContactFeed(own, sealer)

        async def _close_keys(*_: Any, **__: Any) -> None:
            await own.close()

        app.on_before_shutdown.connect(_close_keys)
    worker = TriggerWorker(
        TriggerEngine(rules), states, send, clock=clock, topics=topics, decoder=decoder
    )
    worker.published = published or set()
    worker.known = known
    worker.contacts = contacts
    worker.outage_tolerance_s = config.outage_tolerance_s
    worker.transient = (*worker.transient, ProducerSendError)  # faust's wrap of KafkaError
    feed = config.co_purchase_feed(rules)

    @app.agent(inputs, name="evaluate")
    async def evaluate(stream: Any) -> None:
        # One record at a time. Batches (``take_events``, ``TriggerWorker.on_batch``) lost
        # SLA timers after a SIGKILL: a batch agent that sets ``stream.current_event`` (as
        # ``stream._set_current_event`` does) swaps a record of the next batch for one of
        # the running batch, e.g. a partition's tick — set only faust's context variable.
        # With that fixed, a record still now and then never reached a batching stream
        # shortly after a start, unexplained: batches stay off (docs/BENCHMARKS.md).
        #
        # A step that raises is acknowledged by faust all the same (its stream's ``finally``)
        # and the record never comes back: the worker waits out an unreachable key store or
        # broker itself (``TriggerWorker.step``), and past its tolerance the process exits
        # before the acknowledgement.
        async for event in stream.events():
            message = event.message
            try:
                await worker.step(
                    message.topic, message.partition, message.offset, event.key, event.value
                )
            except OutageTooLong as exc:
                exit_unacknowledged(exc, message.partition, message.offset)

    @states.on_recover
    async def _recovered() -> None:
        """Before the partitions resume: every pending timer, from the restored state."""
        worker.rebuild_index(states.active_partitions)

    @app.timer(interval=config.tick_interval)  # type: ignore[untyped-decorator]
    async def _tick() -> None:
        """Ask each of our partitions with a timer due to fire it (through the agent:
        only an agent's step may change the table)."""
        if clock.manual:
            return
        now = datetime.now(UTC)
        for partition in states.active_partitions:
            earliest = worker.index.earliest(partition)
            if earliest is not None and earliest <= now:
                await send(topics.commands, None, tick_command(now), partition)

    if feed is not None:

        @app.timer(interval=config.co_purchases_refresh)  # type: ignore[untyped-decorator]
        async def _reload_co_purchases() -> None:
            """A fresh snapshot for ``offer: recommended``, swapped in whole: each
            customer's due timers are decided on one snapshot or the next, never a mix."""
            snapshot = await feed.reload(worker.known.co_purchases)
            worker.known = Known(snapshot)

    return app, worker


EXIT_OUTAGE = 75
"""The worker's exit code when the key store or the broker stayed unreachable past the
outage tolerance (``EX_TEMPFAIL``)."""


def exit_unacknowledged(exc: Exception, partition: int, offset: int) -> NoReturn:
    """Stop the process at once, as a crash would: the record in hand is not acknowledged,
    so the next start reads it again (the state's changelog and the triggers already sent
    are safe across a crash, as after a SIGKILL)."""
    log.critical("trigger_worker_gave_up", error=str(exc), partition=partition, offset=offset)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_OUTAGE)


def tick_command(now: datetime) -> bytes:
    return b'{"kind":"tick","now":"' + now.isoformat().encode() + b'"}'
