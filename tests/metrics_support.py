"""The daily rollups recomputed from raw events, independently of ``projections.metrics``:
what the metrics projection must agree with (issue 19, acceptance 1)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from events import Touchpoint
from events import touchpoints as t

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)

Cell = tuple[object, str, str, str]


def recompute(events: Sequence[Touchpoint]) -> dict[Cell, dict[str, int | Decimal]]:
    """Every non-zero measure per (day, business unit, channel, type)."""
    cells: defaultdict[Cell, Counter[str]] = defaultdict(Counter)

    def cell(e: Touchpoint) -> Counter[str]:
        return cells[(e.occurred_at.date(), e.source.business_unit, e.source.channel.value, e.type)]

    ordered = sorted(events, key=lambda e: (e.occurred_at, e.message_id))
    first: dict[str, Touchpoint] = {}
    opened: dict[str, Touchpoint] = {}
    touched: set[str] = set()
    resolved: set[str] = set()
    for e in ordered:
        if e.type.startswith(("identity.", "customer.")):
            continue
        cell(e)["contacts"] += 1
        first.setdefault(e.subject.customer_id or e.subject.key(), e)
        if isinstance(e, t.PurchaseCompleted):
            cell(e)["purchases"] += 1
            cell(e)["revenue"] += e.payload.total  # type: ignore[assignment]
        elif isinstance(e, t.ComplaintOpened):
            if e.payload.case_id not in opened:
                opened[e.payload.case_id] = e
                cell(e)["complaints_opened"] += 1
        elif isinstance(e, t.ComplaintUpdated | t.ComplaintEscalated):
            touched.add(e.payload.case_id)
        elif isinstance(e, t.ComplaintResolved) and e.payload.case_id not in resolved:
            resolved.add(e.payload.case_id)
            cell(e)["complaints_resolved"] += 1
            if e.payload.case_id in opened:
                took = e.occurred_at - opened[e.payload.case_id].occurred_at
                cell(e)["resolve_seconds"] += max(0, round(took.total_seconds()))
                cell(e)["resolves_timed"] += 1
                cell(e)["first_contact_resolutions"] += e.payload.case_id not in touched
        elif isinstance(e, t.SurveyResponded):
            cell(e)["surveys"] += 1
            cell(e)["rating_sum"] += sum(a.rating for a in e.payload.answers)
            cell(e)["rating_count"] += len(e.payload.answers)
            if e.payload.nps is not None:
                cell(e)["nps_count"] += 1
                cell(e)["promoters"] += e.payload.nps >= 9
                cell(e)["detractors"] += e.payload.nps <= 6
    for e in first.values():
        cell(e)["new_customers"] += 1
    return {k: {m: v for m, v in c.items() if v} for k, c in cells.items()}
