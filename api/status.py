"""``GET /status``: per stage and partition, how far behind the views are (managers)."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from api.auth import Manager
from api.deps import Pool
from api.responses import SIGNED_IN, Problem, Responses
from consumers.status import StageCatalogue, stage_status

router = APIRouter(tags=["operations"])

LOG_UNREACHABLE: Responses = {
    503: {"model": Problem, "description": "The broker or the database does not answer."}
}


class PartitionStatusBody(BaseModel):
    stage: str
    view: str
    """The live version of the stage's view (its offsets and dead letters are kept under it)."""
    topic: str
    partition: int
    stored_offset: int | None
    """The next offset the stage applies; null: it has applied nothing yet."""
    log_end: int | None
    """The end of the log (high watermark); null: unknown."""
    lag_events: int | None
    lag_seconds: float | None
    """The age of the oldest event not yet applied; 0 when caught up; null: unknown."""
    last_error: str | None
    """The reason of the newest dead letter of this stage and partition."""


@router.get("/status", responses=SIGNED_IN | LOG_UNREACHABLE)
async def status(_: Manager, pool: Pool, request: Request) -> list[PartitionStatusBody]:
    """Every stage's lag, per partition. An API started without the broker's address
    reports what the database knows: the log's columns are then null."""
    catalogue: StageCatalogue | None = getattr(request.app.state, "stages", None)
    try:
        found = await stage_status(
            pool,
            catalogue.bootstrap_servers if catalogue else None,
            catalogue.stages if catalogue else None,
        )
    except (KafkaError, OSError) as exc:
        raise HTTPException(status_code=503, detail=f"unreachable: {exc!r}") from None
    return [PartitionStatusBody(**s.as_json()) for s in found]
