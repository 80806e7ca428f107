"""Signed webhook requests, Stripe-style, and how a receiver checks them.

Each request carries ``X-Touchlog-Signature: t=<unix seconds>,v1=<hex>`` where the hex
is HMAC-SHA256, keyed with the subscriber's secret, of ``"<t>." + body`` (the raw body
bytes, before any JSON parsing). A receiver checks it with ``verify_signature``::

    from consumers.webhooks.signature import InvalidSignature, verify_signature

    try:
        verify_signature(secret, request.headers["X-Touchlog-Signature"], raw_body)
    except InvalidSignature:
        return 400

The timestamp bounds replays: a signature older (or newer) than ``tolerance`` seconds
is refused. A trigger may arrive more than once (a retry after a lost answer): dedupe
by ``X-Touchlog-Trigger-Id``. ``X-Touchlog-Delivery-Attempt`` counts from 1.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Touchlog-Signature"
TRIGGER_ID_HEADER = "X-Touchlog-Trigger-Id"
ATTEMPT_HEADER = "X-Touchlog-Delivery-Attempt"
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(ValueError):  # says why, for the receiver's log
    """The signature header is missing parts, too old, or does not match the body."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Touchlog-Signature`` value for ``body``, signed at ``timestamp`` (now)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    tolerance: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a request's signature; its timestamp if valid, else ``InvalidSignature``.

    Several ``v1`` values are accepted (one of them must match), so a sender can sign
    with an old and a new secret while a receiver rotates it.
    """
    if not header:
        raise InvalidSignature(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature(f"timestamp {value!r} is not an integer") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise InvalidSignature("no timestamp (t=) in the signature header")
    if not candidates:
        raise InvalidSignature("no v1 signature in the signature header")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        raise InvalidSignature(f"timestamp is {age:.0f} s off, more than {tolerance:g} s")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidSignature("signature does not match the body")
    return timestamp
