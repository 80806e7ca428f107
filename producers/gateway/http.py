"""The HTTP edge shared by the routes: write-key auth, reading a body within its limits,
answering with JSON."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, Request, Response
from fastapi.security import HTTPBasic

from producers.gateway.limits import (
    JSON_TYPES,
    check_content_type,
    check_declared_length,
    decode_body,
    parse_json,
    too_large,
)
from producers.gateway.problems import unauthorized
from producers.gateway.service import Answer, Gateway
from producers.gateway.sources import Source, SourceRegistry


class WriteKeyAuth(HTTPBasic):
    """Documents HTTP Basic in the OpenAPI spec; ``write_key`` reads the header itself, so
    that a malformed one gets the gateway's own 401 (and a key without ':' is accepted)."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


WRITE_KEY = WriteKeyAuth(
    scheme_name="writeKey",
    description="HTTP Basic with the source's write key as user name and no password "
    "(`Authorization: Basic base64(writeKey:)`), as Segment's clients send it.",
    auto_error=False,
)


async def get_gateway(request: Request) -> Gateway:  # async: FastAPI runs a def in a thread
    gateway: Gateway = request.app.state.gateway
    return gateway


async def write_key(request: Request, _: Annotated[None, Depends(WRITE_KEY)]) -> Source:
    header = request.headers.get("authorization")
    if not header:
        raise unauthorized("no write key: send it as the HTTP Basic user name (writeKey:)")
    scheme, _space, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized(f"'{scheme}' authorization is not accepted: use HTTP Basic (writeKey:)")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, or a character beyond ASCII
        raise unauthorized("the HTTP Basic credentials are not valid base64 of UTF-8") from None
    key = decoded.partition(":")[0]
    registry: SourceRegistry = request.app.state.registry
    source = await registry.source_for(key) if key else None
    if source is None:
        raise unauthorized("unknown or revoked write key")
    return source


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
WriteKey = Annotated[Source, Depends(write_key)]


async def read_json(
    request: Request, limit: int, what: str, accepted: tuple[str, ...] = JSON_TYPES
) -> Any:
    """The body's JSON: declared as JSON, at most ``limit`` bytes (read no further)."""
    check_content_type(request.headers.get("content-type"), accepted)
    check_declared_length(request.headers.get("content-length"), limit, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(what, limit)
        chunks.append(chunk)
    data = decode_body(b"".join(chunks), request.headers.get("content-encoding"), limit, what)
    return parse_json(data)


def respond(answer: Answer) -> Response:
    status, body, headers = answer
    return Response(
        pydantic_core.to_json(body), status, headers=headers, media_type="application/json"
    )
