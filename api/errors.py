"""What the read side answers when it cannot serve a request: one mapper from the
use cases' errors to HTTP, installed once on the app.

Routes raise nothing of their own: the read services (and the token checks) raise these,
and ``install`` turns each into its status, with FastAPI's own ``detail`` shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from api.parameters import SEGMENT, STORABLE
from api.roles import Refused
from projections.triggers.lifecycle import InvalidTransition
from projections.triggers.queries import UnknownTrigger


class Unprocessable(ValueError):
    """A parameter that cannot be served as given (422): which one, and why."""

    def __init__(self, field: str | None, reason: str, location: str = "query") -> None:
        super().__init__(reason)
        self.field, self.reason, self.location = field, reason, location


class NotFound(LookupError):
    """Nobody (or nothing) by that name (404); the message says what was looked for."""


class Ambiguous(LookupError):
    """An identifier that names several customers where one was needed (300)."""

    def __init__(self, identifier: str, candidates: Sequence[str]) -> None:
        super().__init__(f"{identifier} names {len(candidates)} customers")
        self.identifier, self.candidates = identifier, list(candidates)


class Unauthorised(PermissionError):
    """No token, or one nobody configured (401)."""


def unprocessable(field: str | None, reason: str, location: str = "query") -> HTTPException:
    """The one 422 of the API, in FastAPI's validation shape: where, and why."""
    loc = [location] if field is None else [location, field]
    return HTTPException(422, [{"loc": loc, "msg": reason, "type": "value_error"}])


def http_error(exc: Exception) -> HTTPException:
    """The HTTP answer to a use case's error."""
    match exc:
        case Unprocessable():
            return unprocessable(exc.field, exc.reason, exc.location)
        case Unauthorised():
            return HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"})
        case Refused():
            return HTTPException(403, str(exc))
        case NotFound() | UnknownTrigger():
            return HTTPException(404, str(exc))
        case Ambiguous():
            return HTTPException(300, {"ambiguous": exc.identifier, "candidates": exc.candidates})
        case InvalidTransition():
            return HTTPException(409, str(exc))
    raise exc


ERRORS: tuple[type[Exception], ...] = (
    Unprocessable,
    Unauthorised,
    Refused,
    NotFound,
    UnknownTrigger,
    Ambiguous,
    InvalidTransition,
)


async def _answer(request: Request, exc: Exception) -> Response:
    return await http_exception_handler(request, http_error(exc))


_PATTERNS = {
    STORABLE: "must not contain NUL (\\u0000): PostgreSQL cannot store it",
    SEGMENT: "must not contain NUL (\\u0000) or '/'",
}


def _said(error: dict[str, Any]) -> str:
    pattern = error.get("ctx", {}).get("pattern")
    if error.get("type") == "string_pattern_mismatch" and pattern in _PATTERNS:
        return _PATTERNS[pattern]
    msg: str = error["msg"]
    return msg


async def _invalid(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, with the patterns every text parameter shares said in words."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101  # as registered below
    errors = [{**e, "msg": _said(e)} for e in exc.errors()]
    return await request_validation_exception_handler(request, RequestValidationError(errors))


def install(app: FastAPI) -> None:
    for error in ERRORS:
        app.add_exception_handler(error, _answer)
    app.add_exception_handler(RequestValidationError, _invalid)
