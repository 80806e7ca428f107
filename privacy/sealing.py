"""Personal fields sealed inside events, and opened again by the readers that hold the keys.

In the log, a personal field's value (``events.sensitivity.is_personal``: the ``subject``
and the payload's personal fields) is a string::

    tlx1.<key id>.<base64url(nonce ‖ AES-256-GCM(JSON of the value))>

sealed with the data key of the event's subject and period (``privacy.keys``), the key id
and the field's name as associated data (a sealed value moved to another field or key
does not open). Everything else in the event stays readable: its type, dates, source,
amounts. A reader replaces each sealed value by its JSON (``open_record``); a value whose
key was shredded becomes ``"[erased]"`` — and a shredded subject ``{"anonymous_id":
"[erased]"}`` — and ``lenient_touchpoint`` builds the event around the erased fields
without refusing it.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from events.catalogue import EVENT_TYPES, TOUCHPOINT_ADAPTER
from events.codec import FieldError, InvalidEvent, _field_errors
from events.sensitivity import is_personal
from events.touchpoints import Touchpoint
from privacy.keys import NONCE_BYTES, KeyRing, Period, Slot
from privacy.retention import Retention

PREFIX = "tlx1"
ERASED = "[erased]"
ERASED_SUBJECT = {"anonymous_id": ERASED}
SEALED_PATTERN = r"^tlx1\.[A-Za-z0-9_-]{8,120}\.[A-Za-z0-9_-]{16,}$"
"""A sealed value, as the published JSON Schemas accept it in place of a personal field."""

_SEALED = re.compile(
    rb'"([A-Za-z_][A-Za-z0-9_]*)"(\s*:\s*)"tlx1\.([A-Za-z0-9_-]{8,120})\.([A-Za-z0-9_-]{16,})"'
)
_KEY_ID = re.compile(rb'"tlx1\.([A-Za-z0-9_-]{8,120})\.')
_MARK = b'"tlx1.'
_ERASED_JSON = msgspec.json.encode(ERASED)
_ERASED_SUBJECT_JSON = msgspec.json.encode(ERASED_SUBJECT)


@functools.cache
def personal_payload_fields(type_name: str) -> tuple[str, ...]:
    """The payload fields of ``type_name`` that are sealed (every version of the type)."""
    model = EVENT_TYPES[type_name]
    payload = model.model_fields["payload"].annotation
    if not (isinstance(payload, type) and issubclass(payload, BaseModel)):
        return ()
    return tuple(name for name, field in payload.model_fields.items() if is_personal(field))


def subject_ref_of(key_id: str) -> str:
    """The subject a key belongs to (its id begins with the subject's ref)."""
    return key_id.split("_", 1)[0]


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX + ".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: bytes) -> bytes:
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def _aad(key_id: str, field: str) -> bytes:
    return f"{key_id}|{field}".encode()


def seal_value(aead: AESGCM, key_id: str, field: str, value: Any) -> str:
    """One field's value (JSON-able) → its sealed string."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, msgspec.json.encode(value), _aad(key_id, field))
    return f"{PREFIX}.{key_id}.{_b64(nonce + sealed)}"


def seal_document(doc: dict[str, Any], key_id: str, aead: AESGCM) -> dict[str, Any]:
    """An event as JSON-able data with its personal fields sealed (in place; returned).
    A value already sealed (by a producer that seals itself) is left as it is."""
    subject = doc.get("subject")
    if subject is not None and not is_sealed(subject):
        doc["subject"] = seal_value(aead, key_id, "subject", subject)
    payload = doc.get("payload")
    if isinstance(payload, dict):
        for name in personal_payload_fields(doc["type"]):
            value = payload.get(name)
            if value is not None and not is_sealed(value):
                payload[name] = seal_value(aead, key_id, name, value)
    return doc


class Sealer:
    """Seals events as a producer sends them: the SDK, the gateway, the importers."""

    def __init__(self, ring: KeyRing, retention: Retention | None = None) -> None:
        self.ring = ring
        self.retention = retention or Retention()

    async def start(self) -> None:
        await self.ring.start()

    def slot(self, event: Touchpoint) -> Slot:
        ref = self.ring.subject_ref(event.subject.key())
        return ref, Period.of(self.retention.of(event.type), event.occurred_at)

    async def seal(self, events: Sequence[Touchpoint]) -> list[tuple[bytes, bytes]]:
        """Each event → (record key, record value): the key is the subject's ref (one
        subject, one partition, and no identifier in clear), the value the event's JSON
        with its personal fields sealed."""
        slots = [self.slot(event) for event in events]
        keys = await self.ring.sealing_keys(slots)
        records = []
        for event, slot in zip(events, slots, strict=True):
            key_id, aead = keys[slot]
            doc = seal_document(event.model_dump(mode="json", exclude_none=True), key_id, aead)
            records.append((slot[0].encode(), msgspec.json.encode(doc)))
        return records


@dataclass(frozen=True, slots=True)
class Opened:
    """A record value with its sealed fields opened."""

    value: bytes
    erased: bool = False
    """Some field's key was shredded: it reads ``[erased]`` (decode with ``lenient_*``)."""
    erased_subjects: tuple[str, ...] = ()
    """Refs of the shredded subjects (the resolver finds their customer by them)."""
    subject_refs: tuple[str, ...] = ()
    """Refs of every subject whose key opened or was shredded here."""


def key_ids(values: Sequence[bytes | None]) -> set[str]:
    """Every data key id the records were sealed with (without parsing them)."""
    found: set[str] = set()
    for value in values:
        if value and _MARK in value:
            found.update(m.decode() for m in _KEY_ID.findall(value))
    return found


def open_record(value: bytes, keys: Mapping[str, AESGCM | None]) -> Opened:
    """``value`` with each sealed field replaced by its JSON, or by ``[erased]`` when its
    key was shredded. Raises ``InvalidEvent`` naming the field when a key is unknown or
    a sealed value does not open (altered, or moved from another field)."""
    if _MARK not in value:
        return Opened(value)
    erased = False
    erased_subjects: list[str] = []
    refs: list[str] = []

    def opened(match: re.Match[bytes]) -> bytes:
        nonlocal erased
        field, colon, raw_key_id, blob = match.groups()
        key_id = raw_key_id.decode()
        name = field.decode()
        if key_id not in keys:
            raise InvalidEvent(
                [
                    FieldError(
                        name, f"sealed with data key {key_id}, which the key store does not hold"
                    )
                ]
            )
        ref = subject_ref_of(key_id)
        refs.append(ref)
        aead = keys[key_id]
        if aead is None:
            erased = True
            if name == "subject":
                erased_subjects.append(ref)
                return field_json(field, colon, _ERASED_SUBJECT_JSON)
            return field_json(field, colon, _ERASED_JSON)
        try:
            sealed = _unb64(blob)
            clear = aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(key_id, name))
        except (InvalidTag, ValueError):
            raise InvalidEvent(
                [
                    FieldError(
                        name,
                        f"sealed value does not open with data key {key_id}: "
                        "altered, or sealed for another field",
                    )
                ]
            ) from None
        return field_json(field, colon, clear)

    value = _SEALED.sub(opened, value)
    return Opened(value, erased, tuple(erased_subjects), tuple(dict.fromkeys(refs)))


def field_json(field: bytes, colon: bytes, value: bytes) -> bytes:
    return b'"' + field + b'"' + colon + value


def open_many(
    values: Sequence[bytes | None], keys: Mapping[str, AESGCM | None]
) -> list[Opened | InvalidEvent | None]:
    """``open_record`` of each value; None stays None (an empty record)."""
    results: list[Opened | InvalidEvent | None] = []
    for value in values:
        if not value:
            results.append(None)
            continue
        try:
            results.append(open_record(value, keys))
        except InvalidEvent as exc:
            results.append(exc)
    return results


class Opener:
    """Opens records for a reader: fetches the batch's keys (cached), then opens each."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    async def open_many(self, values: Sequence[bytes | None]) -> list[Opened | InvalidEvent | None]:
        keys = await self.ring.opening_keys(key_ids(values))
        return open_many(values, keys)


@functools.cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field: FieldInfo = model.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, field])  # type: ignore[arg-type]


def lenient_touchpoint(doc: dict[str, Any]) -> Touchpoint:
    """An event some of whose payload fields read ``[erased]``: each other field is
    validated as usual, the erased ones are kept as ``"[erased]"``. Raises ``InvalidEvent``."""
    payload = doc.get("payload")
    erased = [k for k, v in payload.items() if v == ERASED] if isinstance(payload, dict) else []
    try:
        if not erased:
            return TOUCHPOINT_ADAPTER.validate_python(doc)
        type_name = doc.get("type")
        if type_name not in EVENT_TYPES:
            return TOUCHPOINT_ADAPTER.validate_python(doc)  # names the unknown type
        model = EVENT_TYPES[type_name].model_fields["payload"].annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or not isinstance(
            payload, dict
        ):
            return TOUCHPOINT_ADAPTER.validate_python(doc)
        unknown = sorted(set(payload) - set(model.model_fields))
        if unknown:
            raise InvalidEvent([FieldError(f"payload.{n}", "unknown field") for n in unknown])
        values = {
            name: _field_adapter(model, name).validate_python(value)
            for name, value in payload.items()
            if name not in erased
        }
        built = model.model_construct(None, **values, **dict.fromkeys(erased, ERASED))
        return TOUCHPOINT_ADAPTER.validate_python({**doc, "payload": built})
    except ValidationError as exc:
        raise InvalidEvent(_field_errors(exc)) from None


def lenient_decode(value: bytes) -> Touchpoint:
    """``lenient_touchpoint`` of an opened record value."""
    try:
        doc = msgspec.json.decode(value)
    except msgspec.DecodeError as exc:
        raise InvalidEvent([FieldError("(body)", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict):
        raise InvalidEvent([FieldError("(body)", "not a JSON object")])
    return lenient_touchpoint(doc)
