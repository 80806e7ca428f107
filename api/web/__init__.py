"""The rep's screen, served by the API process: pages and fragments rendered on the
server (Jinja2), swapped in by htmx, with live updates as server-sent events. Static
files (htmx, Swagger UI) are vendored under ``static/``: nothing is built, nothing is
fetched from a CDN.

``mount(app)`` adds it to the read API (``api.create_app``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.verification import VerifiedCalls
from api.web import docs, identity, live, pages, verify
from api.web.session import ForgedRequest, SignInNeeded, sign_in_path

STATIC = Path(__file__).parent / "static"


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)  # noqa: S101  # registered for this type only
    target = sign_in_path(exc.back_to)
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, 303)


async def _forged(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _unavailable(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=503)


def mount(app: FastAPI) -> None:
    app.state.verified = VerifiedCalls()
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(ForgedRequest, _forged)
    app.add_exception_handler(identity.DecisionsUnavailable, _unavailable)
    for module in (docs, pages, live, verify, identity):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
