"""What each route does once the body is read: prepare the events, ingest, say how it went.

The HTTP status of a request is that of its least happy event: 503 if one was not
acknowledged in time, 429 if one was refused for load, else 200 (a batch's rejected
events are reported in its results; a single rejected event is a 400).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from events import FieldError, InvalidEvent
from producers.gateway.ingest import Ingestor, Status, Submission
from producers.gateway.limits import Limits, json_size
from producers.gateway.native import native_submission
from producers.gateway.problems import GatewayError, bad_request
from producers.gateway.segment import merge_context, segment_submission
from producers.gateway.sources import Source
from producers.gateway.track_rules import TrackRule

log = structlog.get_logger()

Prepared = tuple[Submission, tuple[str, ...]]
"""An event ready to ingest, and the fields of the message it does not hold."""
Prepare = Callable[[Any], Prepared]
Answer = tuple[int, dict[str, Any], dict[str, str]]
"""HTTP status, JSON body, headers."""


@dataclass(frozen=True)
class Gateway:
    ingestor: Ingestor
    rules: Mapping[str, TrackRule]
    limits: Limits
    retry_after: int

    # --- native ----------------------------------------------------------------------

    async def native_event(self, document: Any, source: Source) -> Answer:
        received_at = datetime.now(UTC)
        return await self._one(document, lambda d: (native_submission(d, source, received_at), ()))

    async def native_batch(self, document: Any, source: Source) -> Answer:
        received_at = datetime.now(UTC)
        events = self._items(document, "events")
        return await self._many(
            events, lambda d: (native_submission(d, source, received_at), ()), "message_id"
        )

    # --- Segment ---------------------------------------------------------------------

    async def segment_call(self, call: str, document: Any, source: Source) -> Answer:
        received_at = datetime.now(UTC)

        def prepare(message: Any) -> Prepared:
            mapped = segment_submission(message, source, received_at, self.rules, call=call)
            return mapped.submission, mapped.ignored

        status, body, headers = await self._one(document, prepare)
        if status == 200:
            body["success"] = True
        return status, body, headers

    async def segment_batch(self, document: Any, source: Source) -> Answer:
        received_at = datetime.now(UTC)
        messages = self._items(document, "batch")
        context, sent_at = document.get("context"), document.get("sentAt")

        def prepare(message: Any) -> Prepared:
            if context and isinstance(message, Mapping):
                message = {**message, "context": merge_context(context, message.get("context"))}
            mapped = segment_submission(message, source, received_at, self.rules, sent_at=sent_at)
            return mapped.submission, mapped.ignored

        return await self._many(messages, prepare, "messageId")

    # --- shared ----------------------------------------------------------------------

    def _items(self, document: Any, name: str) -> list[Any]:
        items = document.get(name) if isinstance(document, Mapping) else None
        if not isinstance(items, list):
            raise bad_request(
                "malformed_batch", f"expected a JSON object with a '{name}' array of events"
            )
        if not items:
            raise bad_request("malformed_batch", f"'{name}' is empty: send 1 to 1000 events")
        if len(items) > self.limits.batch_events:
            raise bad_request(
                "too_many_events",
                f"the batch holds {len(items)} events; the limit is "
                f"{self.limits.batch_events} per batch",
            )
        return items

    async def _one(self, document: Any, prepare: Prepare) -> Answer:
        try:
            submission, ignored = prepare(document)
        except InvalidEvent as exc:
            log.info("event_rejected", paths=[e.path for e in exc.errors])
            raise bad_request(
                "invalid_event", f"the event is not valid: {exc}", exc.errors
            ) from None
        [status] = await self.ingestor.ingest([submission])
        if status is Status.UNAVAILABLE or status is Status.OVERLOADED:
            raise self._retry_later(status, 1)
        body: dict[str, Any] = {"message_id": submission.event.message_id, "status": status.value}
        if ignored:
            body["ignored"] = list(ignored)
        return 200, body, {}

    async def _many(self, items: list[Any], prepare: Prepare, id_field: str) -> Answer:
        results: list[dict[str, Any]] = [{} for _ in items]
        submissions: list[Submission] = []
        positions: list[int] = []
        for index, item in enumerate(items):
            given_id = item.get(id_field) if isinstance(item, dict) else None
            result = results[index]
            result["index"] = index
            if isinstance(given_id, str):
                result["message_id"] = given_id
            prepared = self._prepare_sized(item, prepare)
            if isinstance(prepared, InvalidEvent):
                result["status"] = "rejected"
                result["errors"] = [
                    {"path": e.path, "reason": e.reason, "given": e.given} for e in prepared.errors
                ]
                continue
            submission, ignored = prepared
            result["message_id"] = submission.event.message_id
            if ignored:
                result["ignored"] = list(ignored)
            submissions.append(submission)
            positions.append(index)
        statuses = await self.ingestor.ingest(submissions)
        for index, status in zip(positions, statuses, strict=True):
            results[index]["status"] = status.value
        counts = dict.fromkeys(
            ("accepted", "duplicate", "rejected", "unavailable", "overloaded"), 0
        )
        for result in results:
            counts[result["status"]] += 1
        if counts["rejected"]:
            log.info("events_rejected", rejected=counts["rejected"], batch=len(items))
        body = {
            "success": counts["accepted"] + counts["duplicate"] == len(items),
            "accepted": counts["accepted"],
            "duplicate": counts["duplicate"],
            "rejected": counts["rejected"],
            "unavailable": counts["unavailable"] + counts["overloaded"],
            "results": results,
        }
        if counts["unavailable"] or counts["overloaded"]:
            waiting = counts["unavailable"] + counts["overloaded"]
            status = Status.UNAVAILABLE if counts["unavailable"] else Status.OVERLOADED
            problem = self._retry_later(status, waiting)
            body["message"] = problem.problem.message
            return problem.status, body, problem.headers
        return 200, body, {}

    def _prepare_sized(self, item: Any, prepare: Prepare) -> Prepared | InvalidEvent:
        size = json_size(item)
        if size > self.limits.event_bytes:
            return InvalidEvent([_too_large(size, self.limits.event_bytes)])
        try:
            return prepare(item)
        except InvalidEvent as exc:
            return exc

    def _retry_later(self, status: Status, events: int) -> GatewayError:
        headers = {"Retry-After": str(self.retry_after)}
        what = "the event" if events == 1 else f"{events} events"
        if status is Status.OVERLOADED:
            return GatewayError(
                429,
                "overloaded",
                f"too many events are waiting for the log; {what} not sent: retry after "
                f"{self.retry_after} s",
                headers=headers,
            )
        log.warning("events_unavailable", events=events)
        return GatewayError(
            503,
            "log_unavailable",
            f"the log did not acknowledge {what} within {self.ingestor.timeout:g} s: retry "
            f"after {self.retry_after} s (a retried event is never written twice)",
            headers=headers,
        )


def _too_large(size: int, limit: int) -> FieldError:
    return FieldError(
        "(event)", f"the event exceeds the limit of {limit // 1024} KB ({size} bytes)"
    )
