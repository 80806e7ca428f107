"""What the gateway refuses before it reads an event: media type, encoding, size, JSON."""

from __future__ import annotations

import gzip

import pytest

from producers.gateway.limits import (
    SEGMENT_TYPES,
    Limits,
    check_content_type,
    check_declared_length,
    decode_body,
    json_size,
    parse_json,
)
from producers.gateway.problems import GatewayError


def _refusal(call, *args) -> GatewayError:
    with pytest.raises(GatewayError) as refused:
        call(*args)
    return refused.value


@pytest.mark.parametrize(
    "header", ["application/json", "application/json; charset=utf-8", "application/vnd.x+json"]
)
def test_json_is_accepted(header: str) -> None:
    check_content_type(header)


@pytest.mark.parametrize(
    ("header", "named"),
    [
        (None, "no Content-Type"),
        ("text/plain", "'text/plain'"),
        ("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'"),
        ("application/json; charset=latin-1", "charset latin-1"),
    ],
)
def test_other_media_types_are_415_naming_what_was_sent(header: str | None, named: str) -> None:
    refused = _refusal(check_content_type, header)

    assert refused.status == 415
    assert refused.problem.code == "unsupported_media_type"
    assert named in refused.problem.message


def test_segment_routes_accept_text_plain_as_analytics_js_sends_it() -> None:
    check_content_type("text/plain;charset=UTF-8", SEGMENT_TYPES)


def test_a_body_over_the_limit_is_400_naming_the_limit() -> None:
    limits = Limits()
    refused = _refusal(
        decode_body, b"x" * (limits.event_bytes + 1), None, limits.event_bytes, "event"
    )

    assert refused.status == 400
    assert refused.problem.code == "event_too_large"
    assert "32 KB (32768 bytes)" in refused.problem.message
    declared = _refusal(check_declared_length, "600000", limits.batch_bytes, "batch")
    assert "500 KB (512000 bytes)" in declared.problem.message


def test_gzip_is_inflated_and_a_bomb_stops_at_the_limit() -> None:
    body = b'{"a": 1}'
    assert decode_body(gzip.compress(body), "gzip", 100, "event") == body

    bomb = gzip.compress(b" " * 10_000_000)
    refused = _refusal(decode_body, bomb, "gzip", 1000, "batch")
    assert refused.problem.code == "batch_too_large"
    assert _refusal(decode_body, b"not gzip", "gzip", 1000, "event").problem.code == (
        "malformed_body"
    )
    assert _refusal(decode_body, body, "br", 1000, "event").status == 415


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty"),
        (b"{", "EOF while parsing"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": "\\ud800"}', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_json_is_400_saying_where(body: bytes, says: str) -> None:
    refused = _refusal(parse_json, body)

    assert refused.status == 400
    assert refused.problem.code == "malformed_json"
    assert says in refused.problem.message


def test_an_event_is_measured_as_compact_json() -> None:
    assert json_size({"a": [1, 2]}) == len(b'{"a":[1,2]}')
