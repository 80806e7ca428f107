"""``GET /customers?query=``: reps find a customer by name, email, phone or postcode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import responses
from api.auth import Representative
from api.deps import Reads
from api.parameters import Storable
from api.schemas import SearchResult

router = APIRouter(tags=["customers"])


@router.get("/customers", response_model=SearchResult, responses=responses.SIGNED_IN)
async def search(
    reads: Reads,
    caller: Representative,
    query: Annotated[
        Storable,
        Query(
            min_length=2,
            max_length=200,
            description="Name, email, phone (any written form) or postcode.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResult:
    return await reads.search(caller, query, limit)
