"""The API's roles: who a token holder is to the read side, and the refusal it answers
when a role asks for more than it may have."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    """A rep: timelines, caller lookup, search, the essential tier (the service tier of
    one customer on request, with a reason)."""
    MANAGER = "manager"
    """A rep who sees every tier, and the access audit."""
    MARKETING = "marketing"
    """Consents, interests, segments, consented contact details; marketing triggers."""


class Refused(Exception):  # says what was refused, to whom
    """The caller's role may not have what it asked for."""
