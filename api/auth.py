"""API tokens and roles, enforced on the server.

Each configured token carries a role (``agent``, ``manager``, ``marketing``) and the name
of whoever holds it (recorded in the access audit). A request without a known token is
a 401; a role without access to what it asked is a 403 that says what was refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.audit_log import ROUTE
from api.errors import Unauthorised
from api.roles import Refused, Role


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: Role


class TokenRegistry:
    """Tokens as configured: the token itself, or ``sha256:<hex digest>`` of it."""

    def __init__(self, tokens: Mapping[str, Caller] | None = None) -> None:
        self._by_digest = {
            key.removeprefix("sha256:").lower() if key.startswith("sha256:") else _digest(key): c
            for key, c in (tokens or {}).items()
        }

    def __len__(self) -> int:
        return len(self._by_digest)

    def caller(self, token: str) -> Caller | None:
        digest = _digest(token)
        for known, caller in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return caller
        return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_bearer = HTTPBearer(auto_error=False, description="An API token configured on the server.")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    registry: TokenRegistry = request.app.state.tokens
    if credentials is None:
        raise Unauthorised("an API token is required (Authorization: Bearer <token>)")
    caller = registry.caller(credentials.credentials)
    if caller is None:
        raise Unauthorised("unknown API token")
    ROUTE.set(route_of(request))
    return caller


def route_of(request: Request) -> str:
    """The route's template (``/customers/{key}/timeline``), for the access audit."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else request.url.path


CurrentCaller = Annotated[Caller, Depends(authenticate)]


_REPRESENTATIVES = frozenset({Role.AGENT, Role.MANAGER})


def _only(roles: frozenset[Role], whom: str, request: Request, caller: Caller) -> Caller:
    if caller.role not in roles:
        raise Refused(f"the {caller.role.value} role has no access to {request.url.path}; {whom}")
    return caller


async def representative(request: Request, caller: CurrentCaller) -> Caller:
    """Agents and managers: the reps' tools (timelines, caller lookup, search)."""
    return _only(_REPRESENTATIVES, "it is for agents and managers", request, caller)


Representative = Annotated[Caller, Depends(representative)]


async def manager(request: Request, caller: CurrentCaller) -> Caller:
    return _only(frozenset({Role.MANAGER}), "it is for managers", request, caller)


Manager = Annotated[Caller, Depends(manager)]
