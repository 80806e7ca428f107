"""The answers each route documents, for the OpenAPI spec (and so for Schemathesis)."""

from __future__ import annotations

from typing import Any

from producers.gateway.problems import Problem
from producers.gateway.schemas import BatchResult

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "HTTP Basic, the write key as user name.",
        "schema": {"type": "string"},
    }
}


def error_responses(*, batch: bool) -> dict[int | str, dict[str, Any]]:
    retry_model = BatchResult if batch else Problem
    return {
        400: {
            "model": Problem,
            "description": "Malformed JSON or body, a size or count limit exceeded"
            + ("" if batch else ", or the event is not valid (errors name each field)"),
        },
        401: {
            "model": Problem,
            "description": "No write key, or an unknown or revoked one.",
            "headers": WWW_AUTHENTICATE,
        },
        415: {"model": Problem, "description": "The body is not declared as JSON (UTF-8)."},
        429: {
            "model": retry_model,
            "description": "Too many events wait for the log: nothing more was sent.",
            "headers": RETRY_AFTER,
        },
        503: {
            "model": retry_model,
            "description": "The log did not acknowledge in time: send again (never doubled).",
            "headers": RETRY_AFTER,
        },
    }


def request_body(schema_name: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
            },
        }
    }
