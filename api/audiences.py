"""``/audiences``: the audiences marketing defined, and their consented contact lists.

Marketing (and managers) take a list per channel: only members who granted the audience's
purpose on that channel and have no open complaint, with the name and that channel's
contact detail, a page at a time or as CSV. Every take is recorded (who, when, which list,
how many customers). Agents are refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api import responses
from api.audience_lists import AudienceLists, NextBestOffer
from api.audience_schemas import AudienceCatalogue, MemberList, NextBestOffers
from api.auth import CurrentCaller
from api.parameters import CustomerKey, PageCursor, Segment
from projections.audiences.rules import ContactChannel

router = APIRouter(tags=["audiences"])


async def _lists(request: Request) -> AudienceLists:
    lists: AudienceLists = request.app.state.audience_lists
    return lists


Lists = Annotated[AudienceLists, Depends(_lists)]
AudienceName = Annotated[Segment, Path(description="An audience's name.")]
Channel = Annotated[ContactChannel, Query(description="The channel the list is for.")]

CSV: responses.Responses = {200: {"content": {"text/csv": {}}, "description": "The list, CSV."}}
UNKNOWN: responses.Responses = {
    404: {"model": responses.Problem, "description": "No audience by that name."}
}
MEMBERS = responses.SIGNED_IN | UNKNOWN


@router.get("/audiences", response_model=AudienceCatalogue, responses=responses.SIGNED_IN)
async def list_audiences(lists: Lists, caller: CurrentCaller) -> AudienceCatalogue:
    """The audiences the live version applies (marketing and managers)."""
    return await lists.catalogue(caller)


@router.get(
    "/audiences/{name}/members",
    response_model=MemberList,
    response_model_exclude_unset=True,  # a member holds only its channel's contact detail
    responses=MEMBERS,
)
async def members(
    name: AudienceName,
    lists: Lists,
    caller: CurrentCaller,
    channel: Channel,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: PageCursor = None,
) -> MemberList:
    """A page of the members contactable on ``channel``, by customer id (audited)."""
    return await lists.page(caller, name, channel, cursor, limit)


@router.get("/audiences/{name}/members.csv", response_class=Response, responses=MEMBERS | CSV)
async def members_csv(
    name: AudienceName, lists: Lists, caller: CurrentCaller, channel: Channel
) -> Response:
    """Every member contactable on ``channel``, as CSV (audited)."""
    text = await lists.export(caller, name, channel)
    return Response(text, media_type="text/csv; charset=utf-8")


async def _offers(request: Request) -> NextBestOffer:
    offers: NextBestOffer = request.app.state.next_best_offer
    return offers


Offers = Annotated[NextBestOffer, Depends(_offers)]


@router.get(
    "/customers/{customer_id}/next-best-offers",
    response_model=NextBestOffers,
    responses=responses.CUSTOMER,
    tags=["recommendations"],
)
async def next_best_offers(
    customer_id: CustomerKey,
    offers: Offers,
    caller: CurrentCaller,
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> NextBestOffers:
    """Categories to offer (agents and managers): what buyers of the customer's categories
    also bought and the customer has not, best first, with support and confidence."""
    return await offers.offers(caller, customer_id, limit)
