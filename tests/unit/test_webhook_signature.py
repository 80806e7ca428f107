"""Signed webhook requests: what a receiver accepts and what it refuses."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from consumers.webhooks.signature import InvalidSignature, sign, verify_signature

SECRET = "s3cret-s3cret-s3cret"  # noqa: S105  # a test key
BODY = b'{"trigger_id":"t-1","rule":"vip"}'
NOW = 1_760_000_000


def test_a_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign(SECRET, BODY, timestamp=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_a_receiver_accepts_what_was_signed() -> None:
    header = sign(SECRET, BODY, timestamp=NOW)
    assert verify_signature(SECRET, header, BODY, tolerance=300, now=NOW + 10) == NOW


@pytest.mark.parametrize(
    ("secret", "body", "reason"),
    [
        ("another-secret-entirely", BODY, "does not match"),
        (SECRET, BODY.replace(b"vip", b"vvip"), "does not match"),
        (SECRET, BODY + b" ", "does not match"),
    ],
)
def test_a_tampered_body_or_wrong_secret_is_refused(secret: str, body: bytes, reason: str) -> None:
    header = sign(SECRET, BODY, timestamp=NOW)
    with pytest.raises(InvalidSignature, match=reason):
        verify_signature(secret, header, body, now=NOW)


def test_a_changed_timestamp_breaks_the_signature() -> None:
    header = sign(SECRET, BODY, timestamp=NOW).replace(f"t={NOW}", f"t={NOW + 1}")
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("skew", [301, -301])
def test_a_signature_outside_the_tolerance_is_refused(skew: int) -> None:
    header = sign(SECRET, BODY, timestamp=NOW)
    with pytest.raises(InvalidSignature, match="more than 300 s"):
        verify_signature(SECRET, header, BODY, tolerance=300, now=NOW + skew)
    assert verify_signature(SECRET, header, BODY, tolerance=400, now=NOW + skew) == NOW


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no X-Touchlog-Signature header"),
        ("", "no X-Touchlog-Signature header"),
        ("v1=abc", "no timestamp"),
        (f"t={NOW}", "no v1 signature"),
        ("t=yesterday,v1=abc", "not an integer"),
    ],
)
def test_a_malformed_header_says_what_is_wrong(header: str | None, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        verify_signature(SECRET, header, BODY, now=NOW)


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated() -> None:
    new = sign(SECRET, BODY, timestamp=NOW)
    old = sign("the-previous-secret-value", BODY, timestamp=NOW).split(",")[1]
    assert verify_signature(SECRET, f"{new.split(',')[0]},{old},{new.split(',')[1]}", BODY, now=NOW)
