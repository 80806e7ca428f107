"""``GET /healthz``: is the read model reachable?"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import Pool
from api.responses import UNAVAILABLE
from projections.db import reachable

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses=UNAVAILABLE)
async def healthz(pool: Pool) -> dict[str, str]:
    try:
        await reachable(pool)
    except (OSError, TimeoutError) as exc:
        raise HTTPException(status_code=503, detail=f"database unreachable: {exc}") from None
    return {"status": "ok"}
