"""Signing in to the rep's screen: the API token, kept in an HttpOnly, SameSite=Strict
cookie, and checked on every request against the same token registry as the API's bearer
tokens (a token removed from the configuration signs its holder out at once).

State-changing requests carry a CSRF token: a digest of the session's token, sent back in
a header by the page itself (another site can neither read it nor, with SameSite=Strict,
send the cookie). It needs no server-side secret, so every API process agrees on it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from api.audit_log import ROUTE
from api.auth import Caller, TokenRegistry, route_of
from api.roles import Refused, Role

COOKIE = "touchlog_session"
CSRF_HEADER = "X-CSRF-Token"
_REPRESENTATIVES = frozenset({Role.AGENT, Role.MANAGER})


class SignInNeeded(Exception):  # answered with a redirect to the sign-in page
    """No session cookie, or one whose token is no longer configured."""

    def __init__(self, back_to: str) -> None:
        super().__init__("sign in first")
        self.back_to = back_to


class ForgedRequest(Exception):  # answered 403
    """A state-changing request without the page's CSRF token."""


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"touchlog-csrf:" + session_token.encode()).hexdigest()


def sign_in_path(back_to: str) -> str:
    return f"/signin?next={quote(back_to, safe='/')}"


def caller_of(request: Request) -> Caller | None:
    token = request.cookies.get(COOKIE)
    registry: TokenRegistry = request.app.state.tokens
    return registry.caller(token) if token else None


async def signed_in(request: Request) -> Caller:
    """The rep this browser signed in as (``SignInNeeded`` otherwise); agents and managers
    only, as on the API's reps' routes."""
    caller = caller_of(request)
    if caller is None:
        raise SignInNeeded(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    if caller.role not in _REPRESENTATIVES:
        raise Refused(f"the {caller.role.value} role has no access to the rep's screen")
    ROUTE.set(route_of(request))
    return caller


Rep = Annotated[Caller, Depends(signed_in)]


async def checked(request: Request, caller: Rep) -> Caller:
    """A state-changing request: signed in, and carrying this session's CSRF token."""
    token = request.cookies.get(COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent, csrf_token(token)):
        raise ForgedRequest("missing or wrong CSRF token")
    return caller


CheckedRep = Annotated[Caller, Depends(checked)]


async def manager_only(caller: Rep) -> Caller:
    if caller.role is not Role.MANAGER:
        raise Refused("the manager view is for managers")
    return caller


ManagerRep = Annotated[Caller, Depends(manager_only)]


async def checked_manager(caller: CheckedRep) -> Caller:
    """A manager's state-changing request (CSRF-checked)."""
    if caller.role is not Role.MANAGER:
        raise Refused("identity decisions are for managers")
    return caller


CheckedManager = Annotated[Caller, Depends(checked_manager)]
