"""The rep's screen without a browser or a database: sign-in, CSRF, the offline docs, the
shape of its routes, how values read, and the verification rules."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api import create_app
from api.auth import Caller
from api.roles import Role
from api.verification import MAX_FAILURES, Attempts, hash_answer, normalised
from api.web.forms import safe_next
from api.web.render import _value
from api.web.session import COOKIE, CSRF_HEADER, csrf_token
from tests.unit.test_read_side_shape import is_route, long_functions, sql_literals

ROOT = Path(__file__).resolve().parents[2]
WEB = sorted((ROOT / "api" / "web").glob("*.py"))
TOKENS = {
    "t-agent": Caller("Ann", Role.AGENT),
    "t-manager": Caller("Max", Role.MANAGER),
    "t-marketing": Caller("Mia", Role.MARKETING),
}


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = create_app("postgresql://unused/", tokens=TOKENS)  # no route here reads the DB
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://screen.test")


def test_the_screens_routes_are_thin_and_hold_no_sql() -> None:
    assert WEB
    assert long_functions(WEB, is_route) == []
    assert sql_literals(WEB) == []


async def test_a_page_without_a_session_sends_the_rep_to_sign_in(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/call?phone=0628230455")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/call%3Fphone%3D0628230455"
    fragment = await client.get("/view/C-1/timeline", headers={"HX-Request": "true"})
    assert (fragment.status_code, fragment.headers["HX-Redirect"]) == (
        401,
        "/signin?next=/view/C-1/timeline",
    )


async def test_signing_in_sets_a_strict_http_only_cookie_and_goes_back(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/signin")
    assert 'label for="token"' in page.text
    wrong = await client.post("/signin", content="token=nope&next=/manager")
    assert wrong.status_code == 303
    assert "failed=true" in wrong.headers["location"]
    right = await client.post("/signin", content="token=t-agent&next=//evil.example/")
    assert (right.status_code, right.headers["location"]) == (303, "/")
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=t-agent")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


async def test_state_changing_requests_need_the_sessions_csrf_token(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set(COOKIE, "t-agent")
    forged = await client.post("/signout")
    assert forged.status_code == 403
    other = await client.post("/signout", headers={CSRF_HEADER: csrf_token("t-other")})
    assert other.status_code == 403
    signed_out = await client.post("/signout", headers={CSRF_HEADER: csrf_token("t-agent")})
    assert signed_out.status_code == 204
    assert signed_out.headers["HX-Redirect"] == "/signin"


async def test_marketing_has_no_screen(client: httpx.AsyncClient) -> None:
    client.cookies.set(COOKIE, "t-marketing")
    assert (await client.get("/")).status_code == 403


async def test_docs_load_swagger_ui_from_this_server(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "htmx.min.js", "sse.min.js"):
        served = await client.get(f"/static/vendor/{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset


def test_only_paths_of_this_site_are_followed_after_sign_in() -> None:
    assert safe_next("/view/C-1?x=1") == "/view/C-1?x=1"
    assert [safe_next(t) for t in (None, "", "https://evil", "//evil", "/\\evil")] == ["/"] * 5


def test_values_read_as_text_not_json() -> None:
    assert (
        _value([{"use": "personal", "address": "a@b.ie", "primary": True}]) == "a@b.ie (personal)"
    )
    assert _value({"given_name": "Siobhán", "family_name": "Niamh", "suffix": None}) == (
        "Siobhán Niamh"
    )
    assert _value({"adults": 2, "children": 0}) == "adults: 2, children: 0"
    assert (_value(None), _value(True), _value([])) == ("—", "yes", "—")


def test_answers_are_compared_as_said_and_stored_only_hashed() -> None:
    assert normalised("  Blue   BELL ") == "blue bell"
    assert normalised("14/07/1961") == normalised("14-07-1961") == normalised("14 07 1961")
    hashed = hash_answer("Bluebell")
    assert hashed.startswith("$argon2id$")
    assert "luebell" not in hashed.lower()


def test_wrong_answers_lock_verification_until_the_lock_ends() -> None:
    attempts = Attempts()
    left = [attempts.failed("C-1", now=float(i)) for i in range(MAX_FAILURES)]
    assert left == [2, 1, 0]
    assert attempts.locked("C-1", now=10.0)
    assert not attempts.locked("C-2", now=10.0)
    assert not attempts.locked("C-1", now=10.0 + 15 * 60)


async def test_identity_decisions_are_for_managers_and_need_a_way_to_the_log(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set(COOKIE, "t-agent")
    agent = await client.post(
        "/manager/identity/reject", headers={CSRF_HEADER: csrf_token("t-agent")}
    )
    assert agent.status_code == 403
    client.cookies.set(COOKIE, "t-manager")
    unwired = await client.post(
        "/manager/identity/reject",
        content="customer=a&other=b&reason=two+people",
        headers={CSRF_HEADER: csrf_token("t-manager")},
    )
    assert unwired.status_code == 503
    assert "touchlog identity" in unwired.json()["detail"]
