"""Every answer a route can give besides its 200 (and FastAPI's 422), documented once per
kind of route: what ``api.errors`` maps each use case's error to, with its body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str
    """What was wrong, in words."""


class Candidates(BaseModel):
    ambiguous: str
    """The identifier, normalised."""
    candidates: list[str]
    """Every customer it names (their survivors)."""


class AmbiguousProblem(BaseModel):
    detail: Candidates


Responses = dict[int | str, dict[str, Any]]


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


UNAUTHORISED: Responses = {401: _problem("No API token, or one nobody configured.")}
REFUSED: Responses = {403: _problem("The caller's role may not have this; says what and why.")}
UNKNOWN_CUSTOMER: Responses = {
    404: _problem("No customer by that id, or an identifier that leads to nobody.")
}
AMBIGUOUS: Responses = {
    300: {
        "model": AmbiguousProblem,
        "description": "The identifier names several customers: their ids, never a guess.",
    }
}
MERGED: Responses = {
    307: {
        "description": "Merged into another customer: the Location is the survivor's.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
}
UNKNOWN_TRIGGER: Responses = {404: _problem("No trigger by that id.")}
INVALID_TRANSITION: Responses = {409: _problem("The trigger's status does not allow this.")}
UNREADABLE_BODY: Responses = {400: _problem("The body cannot be parsed (e.g. not UTF-8).")}
UNAVAILABLE: Responses = {503: _problem("The database is unreachable.")}

SIGNED_IN: Responses = UNAUTHORISED | REFUSED
"""Every route behind a token: who are you, and may your role have this."""
CUSTOMER: Responses = SIGNED_IN | UNKNOWN_CUSTOMER
"""A route about one customer, named by id."""
SUBJECT: Responses = CUSTOMER | AMBIGUOUS
"""A route about one customer, named by id or by an identifier."""
TRIGGER: Responses = SIGNED_IN | UNKNOWN_TRIGGER
TRIGGER_ACTION: Responses = TRIGGER | INVALID_TRANSITION | UNREADABLE_BODY
