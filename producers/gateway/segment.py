"""Segment / RudderStack messages → touchpoints (the HTTP Tracking API's field names).

- ``userId`` is, per write key, a touchlog ``customer_id`` or an external id of the
  key's ``user_id_type``; ``anonymousId`` is the subject's anonymous id;
  ``context.externalIds`` are external ids; an email or phone in ``traits``
  (``identify``) or ``context.traits`` names the subject too.
- ``track``: a mapped event name becomes its type (``track_rules``), any other stays
  an ``event.tracked``; ``identify`` becomes ``profile.updated`` (``traits``);
  ``alias`` becomes ``identity.linked``; ``page``, ``screen`` and ``group`` are kept
  as ``event.tracked``.
- ``timestamp`` is skew-corrected with ``sentAt`` (the message's or the batch's).

Errors name the path in the message as sent (``properties.products.0.price``), not in
the touchpoint it became.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from events import Channel, FieldError, InvalidEvent, from_mapping
from events.envelope import Email, WrittenPhone
from producers.gateway.ingest import Submission
from producers.gateway.sources import USER_ID_AS_CUSTOMER_ID, Source
from producers.gateway.timing import corrected, parse_time
from producers.gateway.track_rules import TrackRule
from producers.gateway.traits import merge_traits, profile_from_traits

CALLS = ("track", "identify", "page", "screen", "group", "alias")
_CHANNELS = {"mobile": Channel.APP, **{c.value: c for c in Channel}}
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)
_PHONE: TypeAdapter[str] = TypeAdapter(WrittenPhone)
_SUBJECT_TRAITS = {"email": _EMAIL, "phone": _PHONE}
_INNER_PATH = re.compile(r"^Value error, (?P<path>[^\s:]+): (?P<reason>.+)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Mapped:
    submission: Submission
    ignored: tuple[str, ...]
    """Fields of the message that no field of the touchpoint holds."""


def merge_context(batch: Any, own: Any) -> Any:
    """A batch's ``context`` under an item's own (the item wins, one level deep)."""
    if not isinstance(batch, Mapping) or not batch:
        return own
    if own is None:
        return dict(batch)
    if not isinstance(own, Mapping):
        return own
    merged = dict(batch)
    for key, value in own.items():
        below = merged.get(key)
        merged[key] = (
            {**below, **value}
            if isinstance(below, Mapping) and isinstance(value, Mapping)
            else value
        )
    return merged


def segment_submission(
    message: Any,
    source: Source,
    received_at: datetime,
    rules: Mapping[str, TrackRule],
    *,
    call: str | None = None,
    sent_at: Any = None,
) -> Mapped:
    """The touchpoint a Segment message becomes. ``call`` is the route's (``/v1/track``);
    in a batch each message says its ``type``. Raises ``InvalidEvent``."""
    if not isinstance(message, Mapping):
        raise InvalidEvent([FieldError("(message)", "expected a JSON object")])
    reader = _Reader(message, source, received_at)
    call = call or reader.call()
    built = reader.build(call, rules, sent_at) if call else None
    if reader.errors or built is None:
        raise InvalidEvent(reader.errors)
    data, ignored = built
    try:
        event = from_mapping(data)
    except InvalidEvent as exc:
        raise InvalidEvent([reader.translate(error) for error in exc.errors]) from None
    return Mapped(Submission(event, deduplicate=reader.message_id_given), tuple(ignored))


class _Reader:
    """Reads one message, collecting errors and where each touchpoint field came from."""

    def __init__(self, message: Mapping[str, Any], source: Source, received_at: datetime) -> None:
        self.message = message
        self.source = source
        self.received_at = received_at
        self.errors: list[FieldError] = []
        self.origins: dict[str, str] = {
            "message_id": "messageId",
            "occurred_at": "timestamp",
            "sent_at": "sentAt",
            "subject.anonymous_id": "anonymousId",
            "campaign": "context.campaign",
            "campaign.name": "context.campaign.name",
        }
        self.message_id_given = False
        self._traits: tuple[dict[str, Any], dict[str, str]] | None = None

    def call(self) -> str | None:
        value = self.message.get("type")
        if value not in CALLS:
            self.errors.append(
                FieldError("type", f"must be one of {', '.join(CALLS)}", _given(value))
            )
            return None
        return str(value)

    def build(
        self, call: str, rules: Mapping[str, TrackRule], batch_sent_at: Any
    ) -> tuple[dict[str, Any], list[str]] | None:
        m = self.message
        context = self._object("context", m.get("context"))
        user_id = self._identifier("userId")
        anonymous_id = self._identifier("anonymousId")
        previous_id = self._identifier("previousId") if call == "alias" else None
        if call == "alias":
            for name, value in (("userId", user_id), ("previousId", previous_id)):
                if value is None:
                    self.errors.append(FieldError(name, "is required in an alias call"))
        elif user_id is None and anonymous_id is None:
            self.errors.append(
                FieldError("userId", "userId or anonymousId is required: who is this about?")
            )
        message_id = self._message_id()
        occurred_at, sent_at = self._times(batch_sent_at)
        subject, ignored = self._subject(call, user_id, anonymous_id, context)
        payload = self._payload(call, rules, user_id, previous_id, subject, context, ignored)
        if self.errors or payload is None or occurred_at is None:
            return None
        type_name, body = payload
        data: dict[str, Any] = {
            "type": type_name,
            "occurred_at": occurred_at,
            "sent_at": sent_at,
            "received_at": self.received_at,
            "source": {
                "system": self.source.system,
                "business_unit": self.source.business_unit,
                "channel": self._channel().value,
            },
            "subject": subject,
            "payload": body,
        }
        if message_id is not None:
            data["message_id"] = message_id
        campaign = context.get("campaign") if context else None
        if isinstance(campaign, Mapping) and isinstance(campaign.get("name"), str):
            data["campaign"] = {"name": campaign["name"]}
        return data, ignored

    # --- the envelope ----------------------------------------------------------------

    def _object(self, path: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.errors.append(FieldError(path, "must be a JSON object", _given(value)))
            return {}
        return dict(value)

    def _identifier(self, name: str) -> str | None:
        value = self.message.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.errors.append(FieldError(name, "must be a string", _given(value)))
            return None
        return str(value)

    def _message_id(self) -> str | None:
        value = self.message.get("messageId")
        if value is None:
            return str(uuid.uuid4())
        self.message_id_given = True
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def _times(self, batch_sent_at: Any) -> tuple[datetime | None, datetime | None]:
        sent_path = "sentAt" if self.message.get("sentAt") is not None else "(batch).sentAt"
        sent_at = self._time(self.message.get("sentAt", batch_sent_at), sent_path)
        timestamp = self._time(self.message.get("timestamp"), "timestamp")
        if timestamp is None:
            return (self.received_at if not self.errors else None), sent_at
        moment = corrected(timestamp, sent_at, self.received_at, "timestamp")
        if isinstance(moment, FieldError):
            self.errors.append(moment)
            return None, sent_at
        return moment, sent_at

    def _time(self, value: Any, path: str) -> datetime | None:
        parsed = parse_time(value, path)
        if isinstance(parsed, FieldError):
            self.errors.append(parsed)
            return None
        return parsed

    def _channel(self) -> Channel:
        given = self.message.get("channel")
        return (
            _CHANNELS.get(given, self.source.channel)
            if isinstance(given, str)
            else (self.source.channel)
        )

    def _subject(
        self, call: str, user_id: str | None, anonymous_id: str | None, context: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        subject: dict[str, Any] = {}
        external_ids: list[dict[str, Any]] = []
        ignored: list[str] = []
        if user_id is not None:
            if self.source.user_id_type == USER_ID_AS_CUSTOMER_ID:
                subject["customer_id"] = user_id
                self.origins["subject.customer_id"] = "userId"
            else:
                external_ids.append({"type": self.source.user_id_type, "id": user_id})
                self.origins["subject.external_ids.0"] = "userId"
                self.origins["subject.external_ids.0.id"] = "userId"
        if anonymous_id is not None:
            subject["anonymous_id"] = anonymous_id
        given = context.get("externalIds")
        if isinstance(given, list):
            for index, item in enumerate(given):
                at = f"subject.external_ids.{len(external_ids)}"
                self.origins[at] = f"context.externalIds.{index}"
                if isinstance(item, Mapping):
                    external_ids.append(
                        {"type": _text(item.get("type")), "id": _text(item.get("id"))}
                    )
                else:
                    external_ids.append(item)
        elif given is not None:
            self.errors.append(FieldError("context.externalIds", "must be a list of {id, type}"))
        if external_ids:
            subject["external_ids"] = external_ids
        if call == "identify":
            traits, places = self._identify_traits(context)
            for name in ("email", "phone"):
                if traits.get(name) is not None:
                    subject[name] = traits[name]  # invalid: the event is rejected, naming it
                    self.origins[f"subject.{name}"] = f"{places[name]}.{name}"
            return subject, ignored
        context_traits = context.get("traits")
        if not isinstance(context_traits, Mapping):
            if context_traits is not None:
                ignored.append("context.traits")
            return subject, ignored
        for name, value in context_traits.items():
            check = _SUBJECT_TRAITS.get(name)
            if check is None or value is None:
                ignored.append(f"context.traits.{name}")  # touchlog records traits on identify
                continue
            try:
                subject[name] = check.validate_python(value)
            except ValidationError:
                ignored.append(f"context.traits.{name}")  # a hint, not the event
        return subject, ignored

    def _identify_traits(self, context: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """An identify's traits: ``context.traits`` (where RudderStack's clients send them)
        under ``traits`` (which win, key by key); and where each was sent. Read once."""
        if self._traits is None:
            own = self._object("traits", self.message.get("traits"))
            in_context = self._object("context.traits", context.get("traits"))
            self._traits = merge_traits(own, in_context)
        return self._traits

    # --- the payload -----------------------------------------------------------------

    def _payload(
        self,
        call: str,
        rules: Mapping[str, TrackRule],
        user_id: str | None,
        previous_id: str | None,
        subject: dict[str, Any],
        context: Mapping[str, Any],
        ignored: list[str],
    ) -> tuple[str, dict[str, Any]] | None:
        m = self.message
        if call == "track":
            name = m.get("event")
            if not isinstance(name, str) or not name.strip():
                self.errors.append(
                    FieldError("event", "is required: the name of the event", _given(name))
                )
                return None
            properties = self._object("properties", m.get("properties"))
            rule = rules.get(name.strip())
            if rule is None:
                return self._tracked(name, "track", properties, "properties")
            applied = rule.apply(properties)
            self.origins.update(applied.origins)
            ignored += [f"properties.{k}" for k in properties if k not in applied.used]
            return rule.type, applied.payload
        if call == "identify":
            traits, places = self._identify_traits(context)
            profile = profile_from_traits(traits, places=places)
            if not profile.payload:
                for key, place in places.items():
                    self.origins[f"payload.properties.{key}"] = f"{place}.{key}"
                sent_in = set(places.values())
                at = sent_in.pop() if len(sent_in) == 1 else "traits"
                return self._tracked("Identify", "identify", traits, at)
            self.origins.update(profile.origins)
            ignored += [f"{places[k]}.{k}" for k in traits if k not in profile.used]
            return "profile.updated", profile.payload
        if call in ("page", "screen"):
            properties = self._object("properties", m.get("properties"))
            name = m.get("name")
            named = name if isinstance(name, str) and name.strip() else None
            return self._tracked(named or f"{call.title()} Viewed", call, properties, "properties")
        if call == "group":
            group_id = self._identifier("groupId")
            if group_id is None:
                self.errors.append(FieldError("groupId", "is required in a group call"))
                return None
            traits = self._object("traits", m.get("traits"))
            self.origins["payload.properties.group_id"] = "groupId"
            self.origins["payload.properties.traits"] = "traits"
            group: dict[str, Any] = {"group_id": group_id}
            if traits:
                group["traits"] = traits
            body = {"name": "Group", "call": "group", "properties": group}
            return "event.tracked", body
        # alias: the two ids are one person; the subject carries both, so the resolver links
        # them, and the event says why.
        subject["anonymous_id"] = previous_id
        self.origins["subject.anonymous_id"] = "previousId"
        self.origins["payload.identifier.value"] = "previousId"
        customer = subject.get("customer_id") or f"external_id:{self.source.user_id_type}:{user_id}"
        return "identity.linked", {
            "customer_id": customer,
            "identifier": {"type": "anonymous_id", "value": previous_id},
            "rule": "segment alias",
            "confidence": "exact",
            "linked_by": self.source.system,
        }

    def _tracked(
        self, name: str, call: str, properties: dict[str, Any], at: str
    ) -> tuple[str, dict[str, Any]]:
        self.origins["payload.name"] = "event" if call == "track" else "name"
        self.origins["payload.properties"] = at
        self.origins["payload"] = at
        return "event.tracked", {"name": name, "call": call, "properties": properties}

    def translate(self, error: FieldError) -> FieldError:
        """The error's path in the message as sent."""
        inner = _INNER_PATH.match(error.reason)
        if inner and error.path.endswith("properties"):
            # Free-form properties are checked as one value; the reason names where.
            error = FieldError(f"{error.path}.{inner['path']}", inner["reason"], error.given)
        parts = error.path.split(".")
        for length in range(len(parts), 0, -1):
            origin = self.origins.get(".".join(parts[:length]))
            if origin is not None:
                path = ".".join([origin, *parts[length:]])
                return FieldError(path, error.reason, error.given)
        return error


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _given(value: Any) -> str | None:
    return None if value is None else repr(value)[:80]
