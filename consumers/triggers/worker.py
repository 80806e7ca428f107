"""What the triggers app does with each record, apart from faust's plumbing.

``touchlog.resolved`` events fold into the customer's state and may fire at
once; ``tick`` commands fire due timers; ``merge_out`` / ``absorb`` commands
move a merged customer's state to its survivor (two hops through the command
topic, because the two customers may live in different partitions).

Order within a step: triggers are sent *before* the state that remembers them
is saved, so a crash in between re-sends (the ``trigger_id`` is the same, and
every consumer deduplicates by it) rather than loses a trigger.

The app hands records over in batches (``on_batch``): the batch's events are decoded
at once, and each customer's state is written to the table (and its changelog) once,
at the end of the batch, after every trigger of the batch was sent; faust acknowledges
the batch's records only after that.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiokafka.errors import KafkaError

from consumers.deadletter import DeadLetter
from consumers.metrics import TRIGGER_WORKER_RECORDS
from consumers.outage import OUTAGE_TOLERANCE_S, Outage
from consumers.triggers.clock import Clock, DueIndex
from consumers.triggers.contacts import ContactFeed
from events.codec import Codec, InvalidEvent
from events.resolved import RESOLVED, Resolved
from privacy.runtime import KeyStoreUnavailable
from projections.db import DATABASE_UNAVAILABLE
from projections.triggers import CustomerState, Trigger, TriggerEngine, decode_state
from projections.triggers.rule import NOTHING_KNOWN, Known
from projections.triggers.state_codec import state_json

log = structlog.get_logger()


@dataclass(frozen=True)
class TriggerTopics:
    source: str  # touchlog.resolved
    commands: str  # internal: ticks of the clock, merges; co-partitioned with the source
    triggers: str
    suppressed: str
    deadletter: str


UNREACHABLE: tuple[type[Exception], ...] = (
    *DATABASE_UNAVAILABLE,  # the data keys, to open sealed records
    KeyStoreUnavailable,
    KafkaError,  # the broker, to send triggers and commands
)
"""What a step waits out: a service that should come back."""


class OutageTooLong(RuntimeError):
    """A record could not be applied within the outage tolerance."""


Send = Callable[[str, bytes | None, bytes, int | None], Awaitable[None]]  # topic, key, value, p


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a batch; ``origin`` is what the writer of the states needs back (the
    faust event the table's changelog partition is taken from)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    origin: Any = None


Origin = Callable[[Any], None]  # makes the record it is given the one a table write is for


class TriggerWorker:
    def __init__(
        self,
        engine: TriggerEngine,
        states: MutableMapping[bytes, CustomerState],
        send: Send,
        *,
        clock: Clock,
        topics: TriggerTopics,
        decoder: Codec[Resolved] = RESOLVED,
    ) -> None:
        self.engine = engine
        # Opens sealed records first when it is ``privacy.runtime.resolved_decoder``'s.
        self.decoder = decoder
        self.states = states
        self.send = send
        self.clock = clock
        self.index = DueIndex()
        self.topics = topics
        self.published: set[str] = set()  # read back after a restart: never publish again
        # What rules know beyond each customer (co-purchases), replaced whole on reload.
        self.known: Known = NOTHING_KNOWN
        # Adds the sealed contact to emitted marketing triggers (None: no contact).
        self.contacts: ContactFeed | None = None
        # While a batch runs: customer → (the record that last changed it, its state).
        self._pending: dict[bytes, tuple[Any, CustomerState]] | None = None
        self._origin: Any = None
        self.outage_tolerance_s = OUTAGE_TOLERANCE_S
        self.transient: tuple[type[Exception], ...] = UNREACHABLE  # the app adds faust's

    async def step(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        """One record as the app's agent hands it over, applied whole or applied again.

        faust acknowledges a record whose step raised, so the record would be passed over:
        an unreachable key store (PostgreSQL restarting, while sealed records are opened)
        or broker is waited out here with backoff, and the record applied again from its
        start — safe, as after a crash: the state is saved last, a trigger sent again has
        the same ``trigger_id``, a merge's commands are idempotent. Past
        ``outage_tolerance_s``: ``OutageTooLong`` (the app then exits before faust
        acknowledges the record).

        A record the step fails on for any other reason (a command that is not JSON, a
        rule tripping over data nobody foresaw) is dead-lettered with the error, as the
        projection runners do, and the worker goes on: it is never dropped unrecorded."""
        outage = Outage(self.outage_tolerance_s)
        failure: Exception | None = None
        while True:
            try:
                if failure is not None:
                    reason = f"the trigger worker failed on it: {failure!r}"
                    await self._dead_letter(topic, partition, offset, key, value, reason)
                elif topic == self.topics.commands:
                    await self.on_command(partition, key, value)
                else:
                    await self.on_resolved(partition, offset, key, value)
            except self.transient as exc:
                delay = outage.failed()
                if delay is None:
                    raise OutageTooLong(
                        f"{topic}[{partition}] offset {offset} could not be applied for "
                        f"{outage.lasted():.1f} s: {exc!r}"
                    ) from exc
                log.warning(
                    "trigger_record_retrying",
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    error=repr(exc),
                    attempt=outage.failures,
                    outage_s=round(outage.lasted(), 1),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
            except Exception as exc:
                if failure is not None:
                    raise  # the dead letter itself failed
                log.exception(
                    "trigger_record_failed", topic=topic, partition=partition, offset=offset
                )
                failure = exc
            else:
                return

    async def on_batch(self, records: Sequence[Record], origin: Origin) -> None:
        """Records in their order; the states they change are written at the end, each
        once, ``origin`` called with the record that last changed it before its write."""
        sources = [r.value for r in records if r.topic == self.topics.source]
        decoded = iter(await self.decoder.decode_records(sources))
        self._pending = {}
        try:
            for record in records:
                self._origin = record.origin
                if record.topic == self.topics.source:
                    await self._apply(
                        record.partition, record.offset, record.key, record.value, next(decoded)
                    )
                else:
                    await self.on_command(record.partition, record.key, record.value)
        finally:  # what was applied is kept, as a record at a time would have kept it
            pending, self._pending, self._origin = self._pending, None, None
            for key, (record, state) in pending.items():
                origin(record)
                self.states[key] = state

    async def on_resolved(
        self, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        [resolved] = await self.decoder.decode_records([value])
        await self._apply(partition, offset, key, value, resolved)

    async def _apply(
        self,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        resolved: Resolved | InvalidEvent,
    ) -> None:
        TRIGGER_WORKER_RECORDS.labels("resolved").inc()
        if isinstance(resolved, InvalidEvent):
            reason = f"invalid event: {resolved}"
            await self._dead_letter(self.topics.source, partition, offset, key, value, reason)
            return
        customer = resolved.customer_id
        event = resolved.event
        state = self._state(partition, customer)
        state, decided = self.engine.apply(
            state, customer, event, self.clock.now(event.occurred_at), offset
        )
        if event.type == "customer.merged":
            for merged in event.payload.merged_customer_ids:
                command = {"kind": "merge_out", "survivor": customer, "merge": event.message_id}
                await self._command(merged.encode(), command)
        await self._emit(decided)
        self._save(partition, customer, state)

    async def on_command(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        TRIGGER_WORKER_RECORDS.labels("command").inc()
        command: dict[str, Any] = json.loads(value or b"{}")
        match command.get("kind"):
            case "tick":
                now = datetime.fromisoformat(command["now"])
                self.clock.tick(now)
                await self.advance(partition, now)
            case "merge_out" if key is not None:
                await self._merge_out(partition, key.decode(), command)
            case "absorb" if key is not None:
                self._absorb(partition, key.decode(), command)
            case other:
                log.warning("trigger_command_unknown", kind=other, partition=partition)

    async def advance(self, partition: int, now: datetime) -> None:
        """Fire the timers of ``partition`` due by ``now``. If a send fails, the customers
        not yet fired stay due (the tick is applied again, or the next one fires them)."""
        due = list(self.index.pop_due(partition, now))
        for i, customer in enumerate(due):
            state = self._get(customer.encode())
            if state is None:
                continue
            try:
                state, decided = self.engine.advance(state, customer, now, self.known)
                await self._emit(decided)
            except BaseException:
                for waiting in due[i:]:
                    kept = self._get(waiting.encode())
                    if kept is not None:
                        self.index.note(partition, waiting, kept.next_due())
                raise
            self._save(partition, customer, state)

    def rebuild_index(self, partitions: set[int]) -> None:
        """After a rebalance and the table's recovery: every pending timer, from the states."""
        self.index.clear()
        for key, state in self.states.items():
            if state.partition in partitions:
                self.index.note(state.partition, key.decode(), state.next_due())

    async def _merge_out(self, partition: int, merged: str, command: dict[str, Any]) -> None:
        state = self._get(merged.encode())
        if state is None or state.merged_into is not None:
            return
        absorb = {
            "kind": "absorb",
            "merged": merged,
            "merge": command["merge"],
            "state": state_json(state).decode(),
        }
        await self._command(command["survivor"].encode(), absorb)
        self._save(partition, merged, state.merged_away(command["survivor"]))

    def _absorb(self, partition: int, survivor: str, command: dict[str, Any]) -> None:
        state = self._state(partition, survivor)
        absorbed = f"absorb/{command['merge']}/{command['merged']}"
        if state.has_seen(absorbed):
            return
        merged = decode_state(command["state"])
        self._save(partition, survivor, state.noting(absorbed).absorb(merged))

    def _get(self, key: bytes) -> CustomerState | None:
        if self._pending is not None and key in self._pending:
            return self._pending[key][1]
        return self.states.get(key)

    def _state(self, partition: int, customer: str) -> CustomerState:
        state = self._get(customer.encode())
        if state is None:
            return CustomerState(partition=partition)
        return state if state.partition == partition else state.evolve(partition=partition)

    def _save(self, partition: int, customer: str, state: CustomerState) -> None:
        if self._pending is None:
            self.states[customer.encode()] = state
        else:
            self._pending[customer.encode()] = (self._origin, state)
        self.index.note(partition, customer, state.next_due())

    async def _emit(self, decided: list[Trigger]) -> None:
        for trigger in decided:
            if trigger.trigger_id in self.published:
                log.info("trigger_already_published", trigger_id=trigger.trigger_id)
                continue
            held = trigger.suppressed is not None
            if self.contacts is not None:  # same trigger_id: a re-send is still one trigger
                trigger = await self.contacts.attach(trigger)
            await self.send(
                self.topics.suppressed if held else self.topics.triggers,
                trigger.customer_id.encode(),
                trigger.encode(),
                None,
            )
            log.info(
                "trigger_suppressed" if held else "trigger_emitted",
                trigger_id=trigger.trigger_id,
                rule=trigger.rule,
                customer_id=trigger.customer_id,
                reason=trigger.suppressed_reason if held else None,
            )

    async def _command(self, key: bytes, command: dict[str, Any]) -> None:
        await self.send(self.topics.commands, key, json.dumps(command).encode(), None)

    async def _dead_letter(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: str,
    ) -> None:
        letter = DeadLetter.of("triggers", topic, partition, offset, key, value, reason)
        await self.send(self.topics.deadletter, letter.kafka_key(), letter.to_json(), None)
        log.warning(
            "trigger_dead_letter", topic=topic, partition=partition, offset=offset, reason=reason
        )
