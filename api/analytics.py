"""``GET /analytics/{report}``: managers' analytics from the metrics rollups, as JSON or
CSV; ``GET /analytics/page`` and ``/analytics/charts/{chart}.svg``: their charts, for a
manager signed in to the rep's screen."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field, WithJsonSchema

from api import analytics_charts, responses
from api.auth import Manager
from api.parameters import STORABLE
from api.web.session import ManagerRep
from projections.metrics.queries import SEASONAL_MEASURES
from projections.metrics.readers import Analytics, AnalyticsPolicy, Ask, Report, to_csv

router = APIRouter(tags=["analytics"])

CalendarDay = Annotated[
    date,
    Field(ge=date(1900, 1, 1), le=date(2200, 1, 1)),
    WithJsonSchema({"type": "string", "format": "date", "pattern": STORABLE, "maxLength": 10}),
]
Day = Annotated[CalendarDay | None, Query(description="A calendar day, YYYY-MM-DD.")]
Label = Annotated[str | None, Query(max_length=100, pattern=STORABLE)]


def policy_of(request: Request) -> AnalyticsPolicy:
    """Set by the composition root (``touchlog.bootstrap.analytics_policy``)."""
    policy = getattr(request.app.state, "analytics_policy", None)
    return policy if isinstance(policy, AnalyticsPolicy) else AnalyticsPolicy()


async def get_analytics(request: Request) -> Analytics:
    return Analytics(request.app.state.pool, policy_of(request))


Reports = Annotated[Analytics, Depends(get_analytics)]


@router.get("/analytics/page", response_class=HTMLResponse, include_in_schema=False)
async def analytics_page(request: Request, caller: ManagerRep, reports: Reports) -> HTMLResponse:
    """Every chart, and the cross-reference table (suppressed cells shown as —)."""
    charts = [
        analytics_charts.svg(chart, await reports.report(chart.report, Ask()))
        for chart in analytics_charts.Chart
    ]
    crossed = await reports.report(Report.CROSS_REFERENCE, Ask())
    k = reports.policy.min_cell_customers
    return HTMLResponse(analytics_charts.page(charts, crossed, k))


_TABLE: responses.Responses = {
    200: {
        "description": "The report's rows: JSON, or CSV with ``format=csv``.",
        "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("/analytics/charts/{chart}.svg", include_in_schema=False)
async def analytics_chart(
    chart: analytics_charts.Chart, caller: ManagerRep, reports: Reports
) -> Response:
    rows = await reports.report(chart.report, Ask())
    return Response(analytics_charts.svg(chart, rows), media_type="image/svg+xml")


@router.get("/analytics/{report}", responses=responses.SIGNED_IN | _TABLE)
async def analytics_report(
    report: Report,
    caller: Manager,
    reports: Reports,
    since: Day = None,
    until: Day = None,
    measure: Annotated[
        Literal[SEASONAL_MEASURES], Query(description="Seasonality: which sum.")  # type: ignore[valid-type]
    ] = "revenue",
    kind: Annotated[
        Literal["code", "reference", "phone_line", "landing_url"] | None,
        Query(description="Campaigns: one way of tracing responses; every way by default."),
    ] = None,
    business_unit: Label = None,
    channel: Label = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # the API's word
) -> Any:
    """Managers only. Each report's rows; ``format=csv`` for a spreadsheet. Periods default
    to the year to today (seasonality, campaigns and interests: the six years to it)."""
    ask = Ask(since, until, measure, kind, business_unit, channel)
    rows = await reports.report(report, ask)
    if format == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{report.value}.csv"'}
        return Response(to_csv(rows), media_type="text/csv", headers=headers)
    return {"report": report.value, "rows": rows}
