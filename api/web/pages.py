"""The rep's screen: sign-in, caller lookup and search, the customer 360 and its timeline,
the manager view. Thin routes over ``Screen`` (the API's own read services); pages and
fragments rendered on the server, swapped in by htmx."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.audit_log import AccessFilter
from api.auth import Caller, TokenRegistry
from api.deps import Reads
from api.parameters import CustomerKey, Identifier, PageCursor, TriggerId
from api.reads import Disclosure
from api.schemas import TimelineResponse
from api.web import forms
from api.web.forms import TimelineView
from api.web.render import CHANNEL_ICONS, html
from api.web.screen import Screen, sections
from api.web.session import COOKIE, CheckedRep, ManagerRep, Rep, sign_in_path
from events import EVENT_TYPES, Tier
from projections.identity import report as identity_report
from projections.triggers.lifecycle import Action

router = APIRouter(include_in_schema=False)

Query2 = Annotated[str | None, Query(max_length=200)]


async def get_screen(request: Request) -> Screen:
    return Screen(request.app.state.reads, request.app.state.desk)


Shown = Annotated[Screen, Depends(get_screen)]


@router.get("/signin", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: Query2 = None, failed: bool = False) -> Response:
    return html(request, "signin.html", next=forms.safe_next(next), failed=failed)


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    sent = await forms.form(request)
    back_to = forms.safe_next(sent.get("next"))
    registry: TokenRegistry = request.app.state.tokens
    if registry.caller(sent.get("token", "")) is None:
        return RedirectResponse(sign_in_path(back_to) + "&failed=true", 303)
    answer = RedirectResponse(back_to, 303)
    secure = request.url.scheme == "https"
    answer.set_cookie(
        COOKIE, sent["token"], httponly=True, samesite="strict", secure=secure, path="/"
    )
    return answer


@router.post("/signout")
async def sign_out(caller: CheckedRep) -> Response:
    answer = Response(status_code=204, headers={"HX-Redirect": "/signin"})
    answer.delete_cookie(COOKIE, path="/")
    return answer


@router.get("/", response_class=HTMLResponse)
async def lookup_page(request: Request, caller: Rep, reads: Reads, q: Query2 = None) -> Response:
    """Find a customer (name, email, phone, postcode) or open an incoming call."""
    found = await reads.search(caller, q, 20) if q and len(q.strip()) >= 2 else None
    template = "_matches.html" if request.headers.get("HX-Request") else "lookup.html"
    return html(request, template, caller=caller, q=q or "", found=found)


@router.get("/call", response_class=HTMLResponse)
async def incoming_call(
    request: Request, caller: Rep, reads: Reads, screen: Shown, phone: Identifier
) -> Response:
    """What a phone system opens when a call comes in: every customer the number leads to."""
    result = await reads.lookup(caller, {"phone": phone})
    desks = [await screen.desk_of(caller, card) for card in result.candidates]
    return html(request, "call.html", caller=caller, phone=phone, result=result, desks=desks)


@router.get("/view/{customer_id}", response_class=HTMLResponse)
async def customer_360(
    request: Request, customer_id: CustomerKey, caller: Rep, screen: Shown
) -> Response:
    card = await screen.card(customer_id)
    if card.customer_id != customer_id:
        return RedirectResponse(f"/view/{card.customer_id}", 307)
    desk = await screen.desk_of(caller, card)
    profile = await screen.profile(caller, customer_id, Disclosure())
    view = TimelineView.of(request)
    page = await screen.timeline(caller, customer_id, None, view.chosen, view.ask)
    verified = request.app.state.verified.holds(caller, customer_id)
    return html(
        request,
        "customer.html",
        **_panel(caller, customer_id, view, page),
        desk=desk,
        sections=sections(profile),
        profile=profile,
        verified=verified,
    )


def _panel(
    caller: Caller, customer_id: str, view: TimelineView, page: TimelineResponse
) -> dict[str, Any]:
    return {
        "caller": caller,
        "customer_id": customer_id,
        "view": view,
        "page": page,
        "event_types": sorted(EVENT_TYPES),
        "channels": CHANNEL_ICONS,
    }


@router.get("/view/{customer_id}/timeline", response_class=HTMLResponse)
async def timeline_panel(
    request: Request, customer_id: CustomerKey, caller: Rep, screen: Shown
) -> Response:
    """The timeline with other filters (or a tier revealed): the whole panel again."""
    view = TimelineView.of(request)
    page = await screen.timeline(caller, customer_id, None, view.chosen, view.ask)
    return html(request, "_timeline_panel.html", **_panel(caller, customer_id, view, page))


@router.get("/view/{customer_id}/timeline/more", response_class=HTMLResponse)
async def timeline_more(
    request: Request, customer_id: CustomerKey, caller: Rep, screen: Shown, before: PageCursor
) -> Response:
    """The next (older) page, as the list scrolls to its end."""
    view = TimelineView.of(request)
    page = await screen.timeline(caller, customer_id, before, view.chosen, view.ask, limit=200)
    return html(request, "_timeline_items.html", **_panel(caller, customer_id, view, page))


@router.post("/view/{customer_id}/reveal", response_class=HTMLResponse)
async def reveal(
    request: Request, customer_id: CustomerKey, caller: CheckedRep, screen: Shown
) -> Response:
    """Show more: the service tier, for a reason recorded in the access audit."""
    reason = (await forms.form(request)).get("reason") or None
    ask = Disclosure(Tier.SERVICE, reason)
    profile = await screen.profile(caller, customer_id, ask)
    view = TimelineView(TimelineView.of(request).chosen, ask)
    page = await screen.timeline(caller, customer_id, None, view.chosen, ask)
    return html(
        request,
        "_revealed.html",
        **_panel(caller, customer_id, view, page),
        sections=sections(profile),
        profile=profile,
    )


@router.post("/view/triggers/{trigger_id}/{action}", response_class=HTMLResponse)
async def work_trigger(
    request: Request, trigger_id: TriggerId, action: Action, caller: CheckedRep, screen: Shown
) -> Response:
    """Acknowledge or close an offer or a task, from the card."""
    note = (await forms.form(request)).get("note") or None
    trigger = await screen.desk.act(caller, trigger_id, action, note)
    return html(request, "_trigger.html", trigger=trigger, caller=caller)


@router.get("/manager", response_class=HTMLResponse)
async def manager_view(
    request: Request, caller: ManagerRep, reads: Reads, screen: Shown
) -> Response:
    """The access audit, suppressed triggers, identity suggestions, business metrics."""
    audit = await reads.access_log(AccessFilter(), 50)
    suppressed = await screen.manager_desk(caller)
    suspected = await identity_report.suspected_duplicates(reads.pool)
    merges = [m for m in await identity_report.merges_made(reads.pool) if m.in_effect]
    return html(
        request,
        "manager.html",
        caller=caller,
        audit=audit,
        suppressed=suppressed,
        suspected=suspected[:50],
        merges=sorted(merges, key=lambda m: m.merged_at, reverse=True)[:20],
    )
