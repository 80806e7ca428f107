"""The rep's screen, in Chromium: issue 18's acceptance.

No sleeps: Playwright's ``expect`` waits for what the page must show, with a deadline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import structlog
from playwright.async_api import Page, Route, expect

from api.audit_log import AccessFilter, accesses
from producers.publisher import Publisher
from tests.browser.checks import Responses, serious_violations
from tests.browser.conftest import World
from tests.browser.story import (
    DIALLED_PHONE,
    EMAIL,
    HISTORY_EVENTS,
    HISTORY_ID,
    HISTORY_WORD,
    RESTRICTED_SENTINELS,
    SERVICE_SENTINEL,
    STORED_PHONE,
    WORD,
)
from tests.integration.kafka_support import read_topic
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

REASON = "Caller asks where her delivery is"


async def _open_caller(page: Page) -> str:
    """Open the incoming call, then the caller's 360; the customer id."""
    await page.goto(f"/call?phone={quote(DIALLED_PHONE)}")
    card = page.get_by_role("article")
    await expect(card).to_have_count(1)
    link = card.get_by_role("link", name="Siobhán Niamh")
    customer_id = (await link.get_attribute("href") or "").removeprefix("/view/")
    async with page.expect_response(lambda r: "/live" in r.url):  # the live stream is open
        await link.click()
    return customer_id


async def test_a_call_from_a_number_written_otherwise_opens_the_card_then_the_360_live(
    world: World, agent: Page, screenshots: Path
) -> None:
    await agent.goto("/")
    await agent.get_by_label("Name, email, phone or postcode").fill("niamh")
    await expect(agent.locator("#matches")).to_contain_text("Siobhán Niamh")
    assert await serious_violations(agent) == []
    await agent.screenshot(path=screenshots / "lookup.png")

    await agent.goto(f"/call?phone={quote(DIALLED_PHONE)}")
    card = agent.get_by_role("article")
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text("Ms Siobhán Niamh")
    await expect(card).to_contain_text("shiv-AWN NEEV")
    await expect(card.locator("dd.alert")).to_have_text("1")  # the open complaint
    await expect(card.locator("time")).to_have_attribute("title", "Europe/Paris")
    assert await serious_violations(agent) == []
    await agent.screenshot(path=screenshots / "call.png")

    await _open_caller(agent)
    timeline = agent.locator("li.touchpoint")
    await expect(timeline).to_have_count(4)
    assert await serious_violations(agent) == []

    # Acceptance 2: published through the SDK, on the open page within 2 s.
    event = {
        "type": "call.logged",
        "message_id": "live-call-1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": {"system": "ivr", "business_unit": "retail", "channel": "phone"},
        "subject": {"phone": STORED_PHONE},
        "payload": {
            "direction": "inbound",
            "duration_seconds": 42,
            "reason": "where is my parcel",
            "outcome": "tracking number given",
        },
    }
    async with Publisher(
        world.bootstrap, topic=world.topics["touchpoints"], idempotence=False
    ) as publisher:
        published = time.monotonic()
        await publisher.publish(event)
        await expect(timeline.first).to_have_attribute(
            "data-message-id", "live-call-1", timeout=2000
        )
    assert time.monotonic() - published <= 2.0
    await expect(timeline).to_have_count(5)

    # The tablet: the 360 reflows to one column, nothing runs off the side.
    await agent.set_viewport_size({"width": 768, "height": 1024})
    overflow = await agent.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0


async def test_a_shared_number_shows_every_candidate(agent: Page) -> None:
    await agent.goto(f"/call?phone={quote('+33 4 72 00 00 01')}")
    await expect(agent.get_by_role("article")).to_have_count(2)
    await expect(agent.get_by_role("main")).to_contain_text("shared by 2 customers")


async def test_an_agent_gets_no_service_value_until_show_more_and_never_a_restricted_one(
    world: World, agent: Page, manager: Page, screenshots: Path
) -> None:
    fetched = Responses(agent)
    customer_id = await _open_caller(agent)
    await expect(agent.locator("#profile")).to_contain_text("Profile")
    assert await fetched.containing(SERVICE_SENTINEL, *RESTRICTED_SENTINELS) == []

    await agent.get_by_label("Show more").fill(REASON)
    await agent.get_by_role("button", name="Show more").click()
    await expect(agent.locator("#profile")).to_contain_text(SERVICE_SENTINEL)
    await expect(agent.locator("#profile")).to_contain_text(REASON)
    # The timeline now shows summaries (service tier) too.
    await expect(agent.locator("li.touchpoint .summary").first).to_be_visible()
    await agent.evaluate("window.scrollTo(0, 0)")
    await agent.screenshot(path=screenshots / "customer-360.png")
    assert await fetched.containing(*RESTRICTED_SENTINELS) == []

    # The reveal is in the access audit, with its reason, and on the manager's screen.
    # Every read is recorded: the page's own (the everyday "service" purpose) and the
    # reveal's, with its reason.
    audited = await accesses(world.pool, AccessFilter(customer_id=customer_id, who="Ann"))
    assert {r["reason"] for r in audited} == {REASON, "service"}
    revealed = [r for r in audited if r["reason"] == REASON]
    assert {"profile", "timeline"} <= {r["endpoint"] for r in revealed}
    assert {r["tier"] for r in revealed} == {"service"}
    assert all(r["tier"] == "essential" for r in audited if r["reason"] == "service")
    await manager.goto("/manager")
    audit = manager.get_by_role("table")
    await expect(audit).to_contain_text(REASON)
    await expect(audit).to_contain_text("Ann (agent)")
    assert await serious_violations(manager) == []
    await manager.screenshot(path=screenshots / "manager.png", full_page=False)

    # A manager sees the restricted tier, but never a verification answer's hash.
    await manager.goto(f"/view/{customer_id}")
    await expect(manager.locator("#profile")).to_contain_text("1961-07-14")
    await expect(manager.locator("#profile")).to_contain_text("memorable_word")
    assert "$argon2id$" not in await manager.content()

    # An agent asking for the manager view is refused.
    refused = await agent.goto("/manager")
    assert refused is not None
    assert refused.status == 403


async def test_verification_marks_the_caller_verified_and_limits_wrong_answers(
    world: World, agent: Page
) -> None:
    fetched = Responses(agent)
    with structlog.testing.capture_logs() as logs:
        customer_id = await _open_caller(agent)
        answer = agent.get_by_label("Memorable word or date")
        await answer.fill("tulip")
        await agent.get_by_role("button", name="Check").click()
        await expect(agent.locator("#verification")).to_contain_text("2 attempts left")
        await answer.fill(f"  {WORD.upper()} ")  # as said: case and spaces do not matter
        await agent.get_by_role("button", name="Check").click()
        await expect(agent.locator("#verification")).to_contain_text("Verified for this call")
        await agent.reload()
        await expect(agent.locator("#verification")).to_contain_text("Verified for this call")

        await agent.goto(f"/view/{HISTORY_ID}")
        for wrong, shown in (("a", "2 attempts left"), ("b", "1 attempt left"), ("c", "locked")):
            await answer.fill(wrong)
            await agent.get_by_role("button", name="Check").click()
            await expect(agent.locator("#verification")).to_contain_text(shown)
        await answer.fill(HISTORY_WORD)  # right, but too late: still locked
        async with agent.expect_response(lambda r: r.url.endswith("/verify")):
            await agent.get_by_role("button", name="Check").click()
        await expect(agent.locator("#verification p")).to_contain_text("locked")

        # The same check for other systems: POST /customers/{customer_id}/verify.
        async with httpx.AsyncClient(
            base_url=world.base_url, headers={"Authorization": "Bearer t-agent"}
        ) as api:
            checked = await api.post(f"/customers/{customer_id}/verify", json={"answer": WORD})
            nobody = await api.post("/customers/nobody/verify", json={"answer": WORD})
        assert checked.status_code == 200
        assert checked.json() | {"audit_id": 0} == {
            "customer_id": customer_id,
            "outcome": "verified",
            "attempts_left": 3,
            "audit_id": 0,
        }
        assert nobody.status_code == 404
        assert WORD.casefold() not in checked.text.casefold()

    audited = await accesses(world.pool, AccessFilter(customer_id=HISTORY_ID))
    assert [r["reason"] for r in audited if r["endpoint"] == "verify"] == [
        "locked",
        "locked",
        "wrong",
        "wrong",
    ]
    secrets = (WORD, HISTORY_WORD)
    assert await fetched.containing(*secrets) == []
    assert [e for e in logs if any(s.casefold() in repr(e).casefold() for s in secrets)] == []
    assert [e["event"] for e in logs if e["event"] == "caller_verification"]  # it was logged
    for table in await world.pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    ):
        name = table["table_name"]
        rows = await world.pool.fetchval(
            f'SELECT count(*) FROM "{name}" t WHERE t::text ILIKE ANY($1)',
            [f"%{s}%" for s in secrets],
        )
        assert rows == 0, f"a secret in clear in {name}"
    log = await read_topic(world.bootstrap, world.topics["touchpoints"])
    assert [
        r.offset
        for r in log
        if any(s.casefold().encode() in (r.value or b"").lower() for s in secrets)
    ] == []
    assert EMAIL  # the caller is known by email too: the secret was set on that identifier


async def test_scrolling_five_thousand_touchpoints_loads_every_page_once(agent: Page) -> None:
    await agent.goto(f"/view/{HISTORY_ID}")
    rows = agent.locator("li.touchpoint")
    await expect(rows.first).to_be_visible()
    more = agent.locator("li.more")
    pages = 1
    while await more.count():
        cursor = await more.get_attribute("data-cursor")
        await more.scroll_into_view_if_needed()
        await expect(agent.locator(f'li.more[data-cursor="{cursor}"]')).to_have_count(0)
        pages += 1
    await expect(agent.locator("li.end")).to_be_visible()
    shown = await rows.evaluate_all(
        "rows => rows.map(r => [r.dataset.messageId, r.querySelector('time').dateTime])"
    )
    ids = [message_id for message_id, _ in shown]
    assert len(ids) == HISTORY_EVENTS + 2 == len(set(ids)), f"{len(ids)} rows in {pages} pages"
    times = [at for _, at in shown]
    assert times == sorted(times, reverse=True)
    assert pages > 10


async def test_tasks_and_offers_are_worked_from_the_card_and_suppressed_ones_reach_managers(
    agent: Page, manager: Page
) -> None:
    await agent.goto(f"/view/{HISTORY_ID}")
    card = agent.get_by_role("article")
    await expect(card).to_contain_text("Service tasks due 1")
    await expect(card).to_contain_text("soundbar")
    task = card.locator("li.trigger", has_text="service-callback")
    await task.get_by_role("button", name="Acknowledge").click()
    await expect(task.locator(".status")).to_have_text("acknowledged")
    await task.get_by_role("button", name="Close").click()
    await expect(task.locator(".status")).to_have_text("closed")
    await expect(task.get_by_role("button")).to_have_count(0)

    await manager.goto("/manager")
    suppressed = manager.get_by_role("region", name="Suppressed triggers")
    await expect(suppressed).to_contain_text("open_complaint")


async def test_the_keyboard_reaches_every_control_from_the_top(agent: Page) -> None:
    await agent.goto(f"/view/{HISTORY_ID}")
    await agent.keyboard.press("Tab")
    await expect(agent.get_by_role("link", name="Skip to content")).to_be_focused()
    await agent.keyboard.press("Enter")
    await agent.keyboard.press("Tab")
    await expect(agent.get_by_role("link", name="Harriet Long")).to_be_focused()


async def test_the_timeline_filters_by_channel_type_and_business_unit(agent: Page) -> None:
    await agent.goto(f"/view/{HISTORY_ID}")
    rows = agent.locator("li.touchpoint")
    await agent.get_by_label("Channel").select_option("email")
    await expect(rows.locator(".icon[aria-label='phone']")).to_have_count(0)
    await expect(rows.first.locator(".icon")).to_have_attribute("aria-label", "email")
    await agent.get_by_label("Business unit").fill("travel")
    await agent.get_by_label("Business unit").press("Enter")
    await expect(rows.locator(".bu", has_text="retail")).to_have_count(0)
    await expect(rows.first.locator(".bu")).to_have_text("travel")
    await agent.get_by_label("Type").select_option("web_form.submitted")
    await expect(agent.locator("li.end")).to_be_visible()  # web forms come from the web
    await expect(rows).to_have_count(0)


async def test_swagger_ui_works_with_no_network_but_this_server(world: World) -> None:
    context = await world.browser.new_context(base_url=world.base_url)
    outside: list[str] = []

    async def local_only(route: Route) -> None:
        if route.request.url.startswith(world.base_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", local_only)
    page = await context.new_page()
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .title")).to_contain_text("touchlog")
    await expect(page.get_by_text("/customers/{customer_id}/verify")).to_be_visible()
    await context.close()
    assert outside == []


async def test_a_manager_rejects_a_suspected_duplicate_with_a_reason(
    world: World, manager: Page
) -> None:
    await manager.goto("/manager")
    pair = manager.locator("ul.decisions li", has_text="Tom Byrne")
    await expect(pair).to_have_count(1)
    await pair.get_by_label("Reason").fill("two brothers at one address")
    await pair.get_by_role("button", name="Reject: different people").click()
    await expect(pair).to_contain_text("Published customer.merge_rejected")
    await eventually(
        lambda: world.pool.fetchval("SELECT count(*) FROM identity_rejected_pairs"),
        lambda n: n == 1,
        timeout=30,
        what="the resolver applying the rejection",
    )
    await manager.reload()
    await expect(manager.locator("ul.decisions li", has_text="Tom Byrne")).to_have_count(0)
