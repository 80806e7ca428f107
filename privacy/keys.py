"""Data keys: one AES-256-GCM key per data subject and period.

A producer seals an event's personal fields with the key of the subject it knows
(``subject_ref``: a keyed hash of ``Subject.key()``, never the identifier itself) for the
period the event falls in (``Period``: its retention class and its day). Erasure deletes
every key of a customer's subjects; retention deletes the keys whose period is over.
What was sealed with a deleted key can no longer be read anywhere — in the log, in a
replay, in a rebuild — and readers show ``[erased]`` instead (docs/PRIVACY.md).

``PostgresKeyStore`` does not store a key per subject and period: it keeps one random key
per subject and one per period (shared by every subject), each wrapped by the master key,
and derives the data key of a (subject, period) from the two (``derive_key``). Shredding
either one makes the data key impossible to derive again. The table then grows with the
subjects plus the days, not with their product, and a subject's first event of a day
fetches its key rather than making and writing one.

``KeyStore`` is the port: a KMS can implement the same five methods. ``KeyRing`` caches
keys in front of a store for a short while (``cache_seconds``), so that a batch costs one
round trip at most.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import time
import weakref
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from projections.db import Queryable

log = structlog.get_logger()

KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKey:
    """Wraps and unwraps data keys (AES-256-GCM, the key id as associated data)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """From base64 (standard or URL-safe) of 32 random bytes."""
        try:
            raw = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_"))
        except ValueError as exc:
            raise ValueError(f"the master key is not base64: {exc}") from None
        return cls(raw)

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> MasterKey:
        """Read the key from ``path``; ``create``: make one there first if none exists
        (embedded, development setups: a production sets ``TOUCHLOG_MASTER_KEY``)."""
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
            log.warning("master_key_created", path=str(path))
        return cls.from_text(path.read_text())

    def wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, key_id.encode())

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())


class Period(NamedTuple):
    """Which key of a subject an event uses: its retention class and its day.

    ``days`` is the event type's retention in days (``None``: kept until erasure, one key
    per subject for all such events). A key whose period is over is shredded, and with it
    the personal fields of every event sealed with it. (A tuple: hashed and compared in C,
    several times for each event sealed.)
    """

    days: int | None
    day: date | None

    @classmethod
    def of(cls, days: int | None, occurred_at: datetime) -> Period:
        if days is None:
            return cls(None, None)
        return cls(days, occurred_at.astimezone(UTC).date())

    @property
    def code(self) -> str:
        return _period_code(self.days, self.day)

    @property
    def expires_at(self) -> datetime | None:
        if self.days is None or self.day is None:
            return None
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return start + timedelta(days=1 + self.days)


@functools.lru_cache(maxsize=65_536)
def _period_code(days: int | None, day: date | None) -> str:
    # Cached: read several times for each event sealed, and events share few periods.
    if days is None or day is None:
        return "k"
    return f"{days}d{day:%Y%m%d}"


Slot = tuple[str, Period]
"""(subject_ref, period): at most one live key each."""


class KeyStore(Protocol):
    """Where data keys live. Keys cross this port unwrapped; wrapping is the store's."""

    async def open_keys(self, key_ids: Collection[str]) -> dict[str, bytes | None]:
        """Each known key id → its key, or None once shredded. Unknown ids are absent."""
        ...

    async def sealing_keys(self, slots: Collection[Slot]) -> dict[Slot, tuple[str, bytes]]:
        """The live key of each slot, created if it has none: slot → (key id, key)."""
        ...

    async def shred_subjects(self, refs: Collection[str], reason: str) -> int:
        """Shred every key of these subjects; the number shredded."""
        ...

    async def shred_expired(self, now: datetime) -> int:
        """Shred every key whose period ended before ``now``; the number shredded."""
        ...

    async def pepper(self) -> bytes:
        """The secret of ``subject_ref``: made once, the same for every process."""
        ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS privacy_keys (
    key_id text PRIMARY KEY,
    subject_ref text NOT NULL,
    period text NOT NULL,
    expires_at timestamptz,
    wrapped bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    shredded_at timestamptz,
    shred_reason text
);
COMMENT ON TABLE privacy_keys IS
    'touchlog:no-personal-data (wrapped data keys; subject_ref is a keyed hash)';
CREATE UNIQUE INDEX IF NOT EXISTS privacy_keys_live
    ON privacy_keys (subject_ref, period) WHERE shredded_at IS NULL;
CREATE INDEX IF NOT EXISTS privacy_keys_subject ON privacy_keys (subject_ref);
CREATE INDEX IF NOT EXISTS privacy_keys_expiry
    ON privacy_keys (expires_at) WHERE shredded_at IS NULL AND expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS privacy_secrets (
    name text PRIMARY KEY,
    wrapped bytea NOT NULL
);
COMMENT ON TABLE privacy_secrets IS 'touchlog:no-personal-data (wrapped secrets)';
"""

_SEALING_KEYS = """
WITH wanted AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bytea[])
        AS w(subject_ref, period, expires_at, key_id, wrapped)
), created AS (
    INSERT INTO privacy_keys (key_id, subject_ref, period, expires_at, wrapped)
    SELECT key_id, subject_ref, period, expires_at, wrapped FROM wanted
    ON CONFLICT (subject_ref, period) WHERE shredded_at IS NULL DO NOTHING
    RETURNING subject_ref, period, key_id, wrapped
)
SELECT subject_ref, period, key_id, wrapped FROM created
UNION ALL
SELECT k.subject_ref, k.period, k.key_id, k.wrapped
FROM privacy_keys k JOIN wanted w USING (subject_ref, period)
WHERE k.shredded_at IS NULL
"""


_LIVE_KEYS = """
SELECT k.subject_ref, k.period, k.key_id, k.wrapped
FROM privacy_keys k
JOIN unnest($1::text[], $2::text[]) AS w(subject_ref, period) USING (subject_ref, period)
WHERE k.shredded_at IS NULL
"""


SUBJECT_KEY = "subject"
"""The ``period`` of a subject's own key in ``privacy_keys``."""
PERIOD_KEYS = "period"
"""The ``subject_ref`` of a period's key in ``privacy_keys`` (shared by every subject)."""


def derive_key(key_id: str, subject_key: bytes, period_key: bytes) -> bytes:
    """The data key of a subject and a period: HMAC-SHA256 keyed with the subject's key,
    of the key id and the period's key. Without either key it cannot be made again:
    shredding the subject's key erases the subject, shredding the period's key ends the
    period for every subject."""
    return hmac.digest(
        subject_key, b"touchlog data key|%s|%s" % (key_id.encode(), period_key), "sha256"
    )


def _tail(row_id: str) -> str:
    return row_id.rsplit("_", 1)[1]


def _is_half(row_id: str) -> bool:
    parts = row_id.split("_")
    return len(parts) == 3 and (parts[1] == SUBJECT_KEY or parts[0] == PERIOD_KEYS)


def _halves(key_id: str) -> tuple[str, str] | None:
    """The rows a derived data key id is made from: (the subject's, the period's); None
    for a key id that is a row of its own."""
    parts = key_id.split("_")
    if len(parts) != 3 or len(parts[2]) != 16:
        return None
    ref, code, tail = parts
    return f"{ref}_{SUBJECT_KEY}_{tail[:8]}", f"{PERIOD_KEYS}_{code}_{tail[8:]}"


class PostgresKeyStore:
    """``KeyStore`` in PostgreSQL: ``privacy_keys`` holds each key wrapped by the master key."""

    schema = (SCHEMA,)

    def __init__(self, db: Queryable, master: MasterKey) -> None:
        self._db = db
        self._master = master

    async def open_keys(self, key_ids: Collection[str]) -> dict[str, bytes | None]:
        if not key_ids:
            return {}
        halves: dict[str, tuple[str, str]] = {}
        whole: set[str] = set()  # keys stored as they are (made before keys were derived)
        for key_id in key_ids:
            found = _halves(key_id)
            if found is not None:
                halves[key_id] = found
            elif not _is_half(key_id):  # a subject's or a period's key is never a data key
                whole.add(key_id)
        rows_wanted = whole.union(*halves.values())
        rows = await self._db.fetch(
            "SELECT key_id, wrapped FROM privacy_keys WHERE key_id = ANY($1::text[])",
            list(rows_wanted),
        )
        held = {
            r["key_id"]: None
            if r["wrapped"] is None
            else self._master.unwrap(r["key_id"], r["wrapped"])
            for r in rows
        }
        opened: dict[str, bytes | None] = {}
        for key_id in key_ids:
            if key_id not in halves:
                if key_id in whole and key_id in held:
                    opened[key_id] = held[key_id]
                continue
            subject_row, period_row = halves[key_id]
            if subject_row not in held or period_row not in held:
                continue  # unknown: absent
            subject_key, period_key = held[subject_row], held[period_row]
            opened[key_id] = (
                None
                if subject_key is None or period_key is None
                else derive_key(key_id, subject_key, period_key)
            )
        return opened

    async def sealing_keys(self, slots: Collection[Slot]) -> dict[Slot, tuple[str, bytes]]:
        wanted = set(slots)
        periods = {period for _, period in wanted}
        rows = await self._live_rows(
            [(ref, SUBJECT_KEY, None) for ref in {ref for ref, _ in wanted}]
            + [(PERIOD_KEYS, period.code, period.expires_at) for period in periods]
        )
        found: dict[Slot, tuple[str, bytes]] = {}
        for ref, period in wanted:
            subject_row, subject_key = rows[(ref, SUBJECT_KEY)]
            period_row, period_key = rows[(PERIOD_KEYS, period.code)]
            key_id = f"{ref}_{period.code}_{_tail(subject_row)}{_tail(period_row)}"
            found[(ref, period)] = (key_id, derive_key(key_id, subject_key, period_key))
        return found

    async def _live_rows(
        self, wanted: list[tuple[str, str, datetime | None]]
    ) -> dict[tuple[str, str], tuple[str, bytes]]:
        """The live row of each (subject_ref, period, expires_at), made where there is
        none: (subject_ref, period) → (row id, key)."""
        wanted.sort(key=lambda row: (row[0], row[1]))  # one order for every producer
        found: dict[tuple[str, str], tuple[str, bytes]] = {}
        # The live rows first: most exist (a subject seen before, a period begun), and
        # making a key only to find another already there costs a wrap and a write.
        rows = await self._db.fetch(
            _LIVE_KEYS, [ref for ref, _, _ in wanted], [period for _, period, _ in wanted]
        )
        found.update(self._unwrapped(rows))
        for _ in range(3):  # a row made by a concurrent producer is seen on the next pass
            missing = [row for row in wanted if (row[0], row[1]) not in found]
            if not missing:
                break
            ids = [f"{ref}_{period}_{os.urandom(4).hex()}" for ref, period, _ in missing]
            rows = await self._db.fetch(
                _SEALING_KEYS,
                [ref for ref, _, _ in missing],
                [period for _, period, _ in missing],
                [expires_at for _, _, expires_at in missing],
                ids,
                [self._master.wrap(key_id, os.urandom(KEY_BYTES)) for key_id in ids],
            )
            found.update(self._unwrapped(rows))
        if len(found) != len(wanted):
            raise RuntimeError("could not create data keys: concurrent shredding?")
        return found

    def _unwrapped(self, rows: list[Any]) -> dict[tuple[str, str], tuple[str, bytes]]:
        """Rows of ``privacy_keys`` → (subject_ref, period) → (row id, key)."""
        return {
            (r["subject_ref"], r["period"]): (
                r["key_id"],
                self._master.unwrap(r["key_id"], r["wrapped"]),
            )
            for r in rows
        }

    async def shred_subjects(self, refs: Collection[str], reason: str) -> int:
        result: str = await self._db.execute(
            "UPDATE privacy_keys SET wrapped = NULL, shredded_at = now(), shred_reason = $2 "
            "WHERE subject_ref = ANY($1::text[]) AND shredded_at IS NULL",
            list(refs),
            reason,
        )
        return int(result.split()[-1])

    async def shred_expired(self, now: datetime) -> int:
        result: str = await self._db.execute(
            "UPDATE privacy_keys SET wrapped = NULL, shredded_at = $1, shred_reason = 'retention' "
            "WHERE expires_at < $1 AND shredded_at IS NULL",
            now,
        )
        return int(result.split()[-1])

    async def pepper(self) -> bytes:
        name = "subject_ref"
        fresh = self._master.wrap(name, os.urandom(KEY_BYTES))
        wrapped = await self._db.fetchval(
            "INSERT INTO privacy_secrets (name, wrapped) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING wrapped",
            name,
            fresh,
        )
        try:
            return self._master.unwrap(name, wrapped)
        except InvalidTag:
            raise WrongMasterKey(
                "the master key does not open this database's key store: it was made with "
                "another (set TOUCHLOG_MASTER_KEY or TOUCHLOG_MASTER_KEY_FILE to the key the "
                "database's keys were wrapped with; docs/PRIVACY.md)"
            ) from None


class WrongMasterKey(RuntimeError):
    """The configured master key is not the one the key store was made with."""


RINGS: weakref.WeakSet[KeyRing] = weakref.WeakSet()
"""Every key ring of the process: an erasure here empties them all (``forget``)."""


class KeyRing:
    """Keys for sealing and opening, cached ``cache_seconds`` in front of a ``KeyStore``.

    A key shredded elsewhere stays usable here until its cache entry expires: an erasure
    is complete in every process after ``cache_seconds`` (docs/PRIVACY.md).
    """

    def __init__(self, store: KeyStore, *, cache_seconds: float = 60.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        RINGS.add(self)
        self._pepper: bytes | None = None
        self._refs: dict[str, str] = {}  # subject key → ref: channels send the same subjects
        self._sealing: dict[Slot, tuple[float, str, AESGCM]] = {}
        self._opening: dict[str, tuple[float, AESGCM | None]] = {}

    async def start(self) -> None:
        if self._pepper is None:
            self._pepper = await self.store.pepper()

    def subject_ref(self, subject_key: str) -> str:
        """The subject's pseudonym: a keyed hash of ``Subject.key()`` (hex, 32 characters)."""
        ref = self._refs.get(subject_key)
        if ref is None:
            if self._pepper is None:
                raise RuntimeError("KeyRing.start() first")
            # hmac.digest: the one-shot C HMAC (hmac.new costs ~25 µs a call in Python).
            ref = hmac.digest(self._pepper, subject_key.encode(), "sha256").hex()[:32]
            if len(self._refs) >= 100_000:
                self._refs.clear()
            self._refs[subject_key] = ref
        return ref

    def nonce_key(self) -> bytes:
        """The secret deterministic nonces are derived with (``sealing.seal_value``)."""
        if self._pepper is None:
            raise RuntimeError("KeyRing.start() first")
        return hmac.new(self._pepper, b"deterministic nonces", hashlib.sha256).digest()

    async def sealing_keys(self, slots: Collection[Slot]) -> dict[Slot, tuple[str, AESGCM]]:
        now = time.monotonic()
        found: dict[Slot, tuple[str, AESGCM]] = {}
        missing = []
        for slot in set(slots):
            cached = self._sealing.get(slot)
            if cached is not None and now - cached[0] < self.cache_seconds:
                found[slot] = (cached[1], cached[2])
            else:
                missing.append(slot)
        if missing:
            for slot, (key_id, key) in (await self.store.sealing_keys(missing)).items():
                aead = AESGCM(key)
                self._sealing[slot] = (now, key_id, aead)
                self._opening[key_id] = (now, aead)
                found[slot] = (key_id, aead)
            self._trim()
        return found

    async def opening_keys(self, key_ids: Collection[str]) -> dict[str, AESGCM | None]:
        """Each known key id → its cipher, or None once shredded; unknown ids are absent."""
        now = time.monotonic()
        found: dict[str, AESGCM | None] = {}
        missing = []
        for key_id in set(key_ids):
            cached = self._opening.get(key_id)
            if cached is not None and now - cached[0] < self.cache_seconds:
                found[key_id] = cached[1]
            else:
                missing.append(key_id)
        if missing:
            for key_id, key in (await self.store.open_keys(missing)).items():
                aead = None if key is None else AESGCM(key)
                self._opening[key_id] = (now, aead)
                found[key_id] = aead
            self._trim()
        return found

    async def raw_opening_keys(self, key_ids: Collection[str]) -> dict[str, bytes | None]:
        """As ``opening_keys``, the keys themselves: for a helper process (picklable)."""
        return await self.store.open_keys(key_ids) if key_ids else {}

    def forget(self) -> None:
        """Drop every cached key (after an erasure in this process)."""
        self._sealing.clear()
        self._opening.clear()

    def _trim(self, limit: int = 200_000) -> None:
        for cache in (self._sealing, self._opening):
            if len(cache) > limit:
                for key in list(cache)[: len(cache) - limit // 2]:
                    del cache[key]  # type: ignore[arg-type]


def master_key_from(settings: Any) -> MasterKey:
    """The master key a process uses: ``TOUCHLOG_MASTER_KEY``, else ``master_key_file``,
    else (embedded, development) a key made once in the data directory."""
    text = getattr(settings, "master_key", None)
    if text is not None:
        return MasterKey.from_text(text.get_secret_value())
    path = getattr(settings, "master_key_file", None)
    if path is not None:
        return MasterKey.from_file(Path(path))
    return MasterKey.from_file(Path(settings.data_dir) / "master.key", create=True)


def as_mapping(found: Mapping[str, bytes | None]) -> dict[str, AESGCM | None]:
    """Raw keys (from a ``KeyStore`` or across a process boundary) → ciphers."""
    return {key_id: None if key is None else AESGCM(key) for key_id, key in found.items()}
