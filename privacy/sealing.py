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

import binascii
import functools
import hmac
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

from events import sensitivity
from events.catalogue import EVENT_TYPES, TOUCHPOINT_ADAPTER
from events.codec import FieldError, InvalidEvent, _field_errors, encode
from events.resolved import Resolved
from events.sensitivity import is_personal
from events.touchpoints import Touchpoint
from privacy.keys import NONCE_BYTES, KeyRing, Period, Slot
from privacy.retention import Retention

PREFIX = "tlx1"
ERASED = sensitivity.ERASED
ERASED_SUBJECT = {"anonymous_id": ERASED}
SEALED_PATTERN = sensitivity.SEALED_PATTERN
"""A sealed value, as the published JSON Schemas accept it in place of a personal field."""

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


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")  # by length % 4 (1 is never valid)


def _b64(data: bytes) -> str:
    # binascii directly: base64's urlsafe functions cost several µs more a field.
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def _unb64(text: bytes) -> bytes:
    return binascii.a2b_base64(text.translate(_FROM_URLSAFE) + _PADDING[len(text) % 4])


def _aad(key_id: str, field: str) -> bytes:
    return f"{key_id}|{field}".encode()


class FieldSealer:
    """Seals fields with one data key: the parts of each sealed string that depend only
    on the key (its prefix, each field's associated data) made once, not per value."""

    __slots__ = ("_aads", "aead", "key_id", "prefix")

    def __init__(self, key_id: str, aead: AESGCM) -> None:
        self.aead = aead
        self.key_id = key_id
        self.prefix = f"{PREFIX}.{key_id}."
        self._aads: dict[str, bytes] = {}

    def seal(self, field: str, clear: bytes, nonce_key: bytes | None = None) -> str:
        """``clear`` (a value's JSON) → its sealed string. The nonce is random, or with
        ``nonce_key`` derived from the key id, the field and the value (HMAC-SHA256): the
        same value then seals to the same string — for the resolver, whose replays must
        forward the same bytes; distinct values still get distinct nonces."""
        aad = self._aads.get(field)
        if aad is None:
            aad = self._aads[field] = _aad(self.key_id, field)
        if nonce_key is None:
            nonce = os.urandom(NONCE_BYTES)
        else:
            nonce = hmac.digest(nonce_key, aad + b"|" + clear, "sha256")[:NONCE_BYTES]
        return self.prefix + _b64(nonce + self.aead.encrypt(nonce, clear, aad))

    def seal_document(self, doc: dict[str, Any], nonce_key: bytes | None = None) -> dict[str, Any]:
        """An event as JSON-able data with its personal fields sealed (in place; returned).
        A value already sealed (by a producer that seals itself) is left as it is."""
        subject = doc.get("subject")
        if subject is not None and not is_sealed(subject):
            doc["subject"] = self.seal("subject", _json(subject), nonce_key)
        payload = doc.get("payload")
        if isinstance(payload, dict):
            for name in personal_payload_fields(doc["type"]):
                value = payload.get(name)
                if value is not None and not is_sealed(value):
                    payload[name] = self.seal(name, _json(value), nonce_key)
        return doc

    def seal_encoded(self, type_name: str, value: bytes) -> bytes:
        """``seal_document`` of an event's canonical JSON, straight to the record's bytes.
        The envelope and the payload are read only one level deep (``msgspec.Raw``): each
        personal value is sealed as the JSON it already is, and nothing else is parsed —
        less than half the cost of reading the whole event back as data."""
        doc: dict[str, Any] = _FIELDS.decode(value)  # values: Raw, then sealed str
        subject = _json_of(doc.get("subject"))
        if subject is not None and not subject.startswith(_MARK):
            doc["subject"] = self.seal("subject", subject)
        names = personal_payload_fields(type_name)
        payload = _json_of(doc.get("payload"))
        if names and payload is not None and payload.startswith(b"{"):
            fields: dict[str, Any] = _FIELDS.decode(payload)
            for name in names:
                found = _json_of(fields.get(name))
                if found is not None and found != b"null" and not found.startswith(_MARK):
                    fields[name] = self.seal(name, found)
            doc["payload"] = msgspec.Raw(_json(fields))
        return _json(doc)


_json = msgspec.json.encode
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
"""A JSON object one level deep: each value kept as its JSON."""


def _json_of(value: msgspec.Raw | None) -> bytes | None:
    return None if value is None else bytes(value)


def seal_value(
    aead: AESGCM, key_id: str, field: str, value: Any, nonce_key: bytes | None = None
) -> str:
    """One field's value (JSON-able) → its sealed string (``FieldSealer.seal``)."""
    return FieldSealer(key_id, aead).seal(field, _json(value), nonce_key)


def seal_document(
    doc: dict[str, Any], key_id: str, aead: AESGCM, nonce_key: bytes | None = None
) -> dict[str, Any]:
    """``FieldSealer.seal_document`` with a key given by its id and cipher."""
    return FieldSealer(key_id, aead).seal_document(doc, nonce_key)


class Sealer:
    """Seals events as a producer sends them: the SDK, the gateway, the importers."""

    def __init__(self, ring: KeyRing, retention: Retention | None = None) -> None:
        self.ring = ring
        self.retention = retention or Retention()
        self._field_sealers: dict[str, FieldSealer] = {}

    async def start(self) -> None:
        await self.ring.start()

    async def close(self) -> None:
        """Release what the sealer holds (nothing here; ``privacy.runtime.ProducerSealer``
        closes its pool)."""

    def slot(self, event: Touchpoint) -> Slot:
        ref = self.ring.subject_ref(event.subject.key())
        return ref, Period.of(self.retention.of(event.type), event.occurred_at)

    def _field_sealer(self, key_id: str, aead: AESGCM) -> FieldSealer:
        found = self._field_sealers.get(key_id)
        if found is None or found.aead is not aead:
            if len(self._field_sealers) >= 100_000:
                self._field_sealers.clear()
            found = self._field_sealers[key_id] = FieldSealer(key_id, aead)
        return found

    async def seal(self, events: Sequence[Touchpoint]) -> list[tuple[bytes, bytes]]:
        """Each event → (record key, record value): the key is the subject's ref (one
        subject, one partition, and no identifier in clear), the value the event's JSON
        with its personal fields sealed."""
        slots = [self.slot(event) for event in events]
        keys = await self.ring.sealing_keys(slots)
        sealers = {slot: self._field_sealer(*keys[slot]) for slot in keys}
        records = []
        for event, slot in zip(events, slots, strict=True):
            sealed = sealers[slot].seal_encoded(event.type, encode(event))
            records.append((slot[0].encode(), sealed))
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


_Prepared = dict[bytes, tuple[str, str, AESGCM | None]]
"""Raw key id → (key id, subject ref, cipher): what opening a field looks up."""


def _prepared(keys: Mapping[str, AESGCM | None]) -> _Prepared:
    return {key_id.encode(): (key_id, subject_ref_of(key_id), a) for key_id, a in keys.items()}


def open_record(
    value: bytes, keys: Mapping[str, AESGCM | None], *, prepared: _Prepared | None = None
) -> Opened:
    """``value`` with each sealed field replaced by its JSON, or by ``[erased]`` when its
    key was shredded. Raises ``InvalidEvent`` naming the field when a key is unknown or
    a sealed value does not open (altered, or moved from another field). ``prepared``:
    ``keys`` as ``open_many`` prepares them once for a batch.

    Each sealed value is found by its mark (``"tlx1.``), and its field's name read back
    from just before it (``"name":``): a regex that began at the name tried every key of
    the record, and cost several times the decryption."""
    if _MARK not in value:
        return Opened(value)
    table = _prepared(keys) if prepared is None else prepared
    erased = False
    erased_subjects: list[str] = []
    refs: list[str] = []
    parts: list[bytes] = []
    done = 0
    for match in _SEALED_VALUE.finditer(value):
        begin = match.start()
        field = _field_before(value, begin)
        if field is None:
            continue  # not a field's value (inside a string or an array): not ours
        raw_key_id, blob = match.groups()
        entry = table.get(raw_key_id)
        if entry is None:
            reason = (
                f"sealed with data key {raw_key_id.decode()}, which the key store does not hold"
            )
            raise InvalidEvent([FieldError(field.decode(), reason)])
        key_id, ref, aead = entry
        refs.append(ref)
        if aead is None:
            erased = True
            if field == b"subject":
                erased_subjects.append(ref)
                clear = _ERASED_SUBJECT_JSON
            else:
                clear = _ERASED_JSON
        else:
            try:
                sealed = _unb64(blob)
                aad = raw_key_id + b"|" + field  # as _aad(key_id, name)
                clear = aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
            except (InvalidTag, ValueError, binascii.Error):
                reason = (
                    f"sealed value does not open with data key {key_id}: "
                    "altered, or sealed for another field"
                )
                raise InvalidEvent([FieldError(field.decode(), reason)]) from None
        parts.append(value[done:begin])
        parts.append(clear)
        done = match.end()
    if not parts:
        return Opened(value)
    parts.append(value[done:])
    return Opened(b"".join(parts), erased, tuple(erased_subjects), tuple(dict.fromkeys(refs)))


_SEALED_VALUE = re.compile(rb'"tlx1\.([A-Za-z0-9_-]{8,120})\.([A-Za-z0-9_-]{16,})"')
_WHITESPACE = frozenset(b" \t\r\n")
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def _field_before(value: bytes, at: int) -> bytes | None:
    """The name of the field whose value begins at ``at`` (``"name":`` just before it,
    JSON's white space allowed), or None when the value there is not a field's."""
    i = at
    while i > 0 and value[i - 1] in _WHITESPACE:
        i -= 1
    if i == 0 or value[i - 1] != 0x3A:  # ':'
        return None
    i -= 1
    while i > 0 and value[i - 1] in _WHITESPACE:
        i -= 1
    if i == 0 or value[i - 1] != 0x22:  # '"'
        return None
    opening = value.rfind(b'"', 0, i - 1)
    name = value[opening + 1 : i - 1]
    return name if opening >= 0 and _NAME.fullmatch(name) else None


def open_many(
    values: Sequence[bytes | None], keys: Mapping[str, AESGCM | None]
) -> list[Opened | InvalidEvent | None]:
    """``open_record`` of each value; None stays None (an empty record)."""
    results: list[Opened | InvalidEvent | None] = []
    table = _prepared(keys)
    for value in values:
        if not value:
            results.append(None)
            continue
        try:
            results.append(open_record(value, keys, prepared=table))
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


def lenient_resolved(value: bytes) -> Resolved:
    """A ``touchlog.resolved`` record, opened, some of whose fields read ``[erased]``
    (``lenient_touchpoint`` of its event). Raises ``InvalidEvent``."""
    try:
        doc = msgspec.json.decode(value)
    except msgspec.DecodeError as exc:
        raise InvalidEvent([FieldError("(body)", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), dict):
        raise InvalidEvent([FieldError("event", "not a JSON object")])
    event = lenient_touchpoint(doc["event"])
    try:
        return Resolved.model_validate({**doc, "event": event})
    except ValidationError as exc:
        raise InvalidEvent(_field_errors(exc)) from None
