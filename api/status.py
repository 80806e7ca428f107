"""``GET /status``: per stage and partition, how far behind the views are (managers)."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request

from api.auth import Manager
from api.deps import Pool
from api.responses import SIGNED_IN, Problem, Responses
from consumers.status import PartitionStatus, StageCatalogue, stage_status

router = APIRouter(tags=["operations"])

LOG_UNREACHABLE: Responses = {
    503: {"model": Problem, "description": "The broker or the database does not answer."}
}


@router.get("/status", responses=SIGNED_IN | LOG_UNREACHABLE)
async def status(_: Manager, pool: Pool, request: Request) -> list[PartitionStatus]:
    """Every stage's lag, per partition. An API started without the broker's address
    reports what the database knows: the log's columns are then null."""
    catalogue: StageCatalogue | None = getattr(request.app.state, "stages", None)
    try:
        found = await stage_status(
            pool,
            catalogue.bootstrap_servers if catalogue else None,
            catalogue.stages if catalogue else None,
            security=catalogue.kafka_security if catalogue else None,
        )
    except (KafkaError, OSError) as exc:
        raise HTTPException(status_code=503, detail=f"unreachable: {exc!r}") from None
    return found
