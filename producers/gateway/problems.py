"""What the gateway answers when it refuses a request: a code, a message, the field errors.

``code`` and ``message`` are the fields Segment's clients read from an error response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from events import FieldError


class FieldProblem(BaseModel):
    """One reason an event was rejected: where (a JSON path in what was sent), why, what."""

    path: str = Field(examples=["properties.products.0.price"])
    reason: str
    given: str | None = None

    @classmethod
    def of(cls, error: FieldError) -> FieldProblem:
        return cls(path=error.path, reason=error.reason, given=error.given)


class Problem(BaseModel):
    """An error response."""

    code: str = Field(examples=["invalid_event"], description="Stable, machine-readable.")
    message: str = Field(description="What was wrong, naming the limit or the field.")
    errors: list[FieldProblem] = Field(default_factory=list)


class GatewayError(Exception):
    """Refuse the request with ``status``; rendered as a ``Problem``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = Problem(
            code=code, message=message, errors=[FieldProblem.of(e) for e in errors]
        )
        self.headers = dict(headers or {})


def unauthorized(message: str) -> GatewayError:
    return GatewayError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Basic realm="touchlog"'}
    )


def bad_request(code: str, message: str, errors: Sequence[FieldError] = ()) -> GatewayError:
    return GatewayError(400, code, message, errors)
