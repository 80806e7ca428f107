"""What the gateway accepts before it looks at an event: media type, encoding, size, JSON.

Pure functions over headers and bytes; each refusal names the limit or the fault.
The numbers are Segment's: 32 KB per event, 500 KB per batch.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import pydantic_core

from producers.gateway.problems import GatewayError, bad_request

KB = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    event_bytes: int = 32 * KB
    batch_bytes: int = 500 * KB
    batch_events: int = 1000

    def describe(self) -> str:
        return (
            f"{self.event_bytes // KB} KB per event, {self.batch_bytes // KB} KB and "
            f"{self.batch_events} events per batch"
        )


JSON_TYPES = ("application/json",)
# Segment's analytics.js posts text/plain (a "simple" request: no CORS preflight).
SEGMENT_TYPES = ("application/json", "text/plain")


def check_content_type(header: str | None, accepted: tuple[str, ...] = JSON_TYPES) -> None:
    """415 unless the body is declared as JSON (``charset`` may only be UTF-8)."""
    media, _, params = (header or "").partition(";")
    media = media.strip().lower()
    if media not in accepted and not (media.startswith("application/") and media.endswith("+json")):
        named = f"'{media}'" if media else "no Content-Type"
        raise GatewayError(
            415,
            "unsupported_media_type",
            f"{named} is not accepted: send the body as {' or '.join(accepted)}",
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise GatewayError(
                415, "unsupported_media_type", f"charset {value.strip()} is not accepted: use UTF-8"
            )


def too_large(what: str, limit: int) -> GatewayError:
    code = "event_too_large" if what == "event" else "batch_too_large"
    return bad_request(code, f"the {what} exceeds the limit of {limit // KB} KB ({limit} bytes)")


def check_declared_length(header: str | None, limit: int, what: str) -> None:
    """Refuse early on a ``Content-Length`` already over the limit."""
    if header is not None and header.isascii() and header.isdigit() and int(header) > limit:
        raise too_large(what, limit)


def decode_body(raw: bytes, content_encoding: str | None, limit: int, what: str) -> bytes:
    """The body as sent, gunzipped if it was; never more than ``limit`` bytes of it."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        data = raw
    elif encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(raw, limit + 1)  # a bomb stops at the limit
        except zlib.error as exc:
            raise bad_request(
                "malformed_body", f"the body is not valid {encoding}: {exc}"
            ) from None
        if not inflater.eof and len(data) <= limit:
            raise bad_request("malformed_body", f"the {encoding} body is truncated")
    else:
        raise GatewayError(
            415,
            "unsupported_media_type",
            f"Content-Encoding '{encoding}' is not accepted: send identity or gzip",
        )
    if len(data) > limit:
        raise too_large(what, limit)
    return data


def parse_json(data: bytes) -> Any:
    """The JSON document, or a 400 saying where it stops being JSON."""
    if not data.strip():
        raise bad_request("malformed_json", "the body is empty: send a JSON object")
    try:
        return pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise bad_request("malformed_json", f"the body is not valid JSON: {exc}") from None


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON: how an event in a batch is measured."""
    return len(pydantic_core.to_json(value))
