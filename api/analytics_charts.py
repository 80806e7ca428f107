"""The managers' charts: analytics rows drawn as SVG by pygal, server-side (no script in
the page), and the standalone page that shows them."""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cache
from types import ModuleType
from typing import Any

from projections.metrics.queries import Row
from projections.metrics.readers import Report

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@cache
def _pygal() -> ModuleType:
    """pygal, imported when a chart is first drawn. Its import appends a legacy
    ``sys.meta_path`` finder (for map plugins, unused here) that makes every later failed
    import warn (an ``ImportWarning``, an error under pytest): it is taken out again."""
    import pygal  # type: ignore[import-untyped]

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "pygal"]
    module: ModuleType = pygal
    return module


def _chart(kind: str, title: str) -> Any:
    pygal = _pygal()
    from pygal.style import CleanStyle  # type: ignore[import-untyped]

    return getattr(pygal, kind)(
        title=title,
        width=720,
        height=360,
        explicit_size=True,
        style=CleanStyle,
        disable_xml_declaration=True,
    )


class Chart(StrEnum):
    """Each chart and the report it draws."""

    YEAR_ON_YEAR = "year-on-year"
    SEASONS = "seasons"
    WEEKDAYS = "weekdays"
    CAMPAIGNS = "campaigns"
    INTERESTS = "interests"
    SURVEY_PROBLEMS = "survey-problems"
    CUSTOMERS = "customers"
    STAFF = "staff"

    @property
    def report(self) -> Report:
        seasonal = self in (Chart.SEASONS, Chart.WEEKDAYS)
        return Report.SEASONALITY if seasonal else Report(self.value)


def _year_on_year(rows: Sequence[Row]) -> str:
    chart = _chart("Bar", title="This year against 1, 3 and 5 years ago")
    metrics = ("contacts", "purchases", "new_customers", "complaints_opened")
    chart.x_labels = [m.replace("_", " ") for m in metrics]
    found = {(r["metric"], r["years_back"]): r for r in rows}
    backs = sorted({r["years_back"] for r in rows}, reverse=True)
    for back in backs:
        chart.add(f"{back} years ago", [found[(m, back)]["then"] for m in metrics])
    if backs:
        chart.add("this year", [found[(m, backs[0])]["this_period"] for m in metrics])
    return str(chart.render(is_unicode=True))


def _seasonal(by: str, labels: Sequence[str]) -> Callable[[Sequence[Row]], str]:
    def draw(rows: Sequence[Row]) -> str:
        chart = _chart("Bar", title=f"Revenue by {by} (1.0 = average)")
        chart.x_labels = labels
        index = {r["at"]: r["index"] for r in rows if r["by"] == by}
        chart.add("index", [index.get(n) for n in range(1, len(labels) + 1)])
        return str(chart.render(is_unicode=True))

    return draw


def _campaigns(rows: Sequence[Row]) -> str:
    chart = _chart("Bar", title="Campaigns: attributed revenue against cost")
    codes = [r for r in rows if r["kind"] == "code"]
    chart.x_labels = [r["key"] for r in codes]
    chart.add("revenue", [r["revenue"] for r in codes])
    chart.add("cost", [r["cost"] for r in codes])
    return str(chart.render(is_unicode=True))


def _interests(rows: Sequence[Row]) -> str:
    chart = _chart("HorizontalBar", title="Interests: share who then bought in them")
    chart.x_labels = [r["category"] for r in rows]
    chart.add("conversion", [r["conversion"] for r in rows])
    return str(chart.render(is_unicode=True))


def _survey_problems(rows: Sequence[Row]) -> str:
    chart = _chart("HorizontalBar", title="Survey topics: share of low ratings")
    chart.x_labels = [r["topic"] for r in rows]
    chart.add("year before", [r["low_share_year_before"] for r in rows])
    chart.add("this year", [r["low_share"] for r in rows])
    return str(chart.render(is_unicode=True))


def _customers(rows: Sequence[Row]) -> str:
    chart = _chart("Line", title="Customers per month: new, active, lapsed")
    chart.x_labels = [r["month"][:7] for r in rows]
    for series in ("new", "active", "lapsed"):
        chart.add(series, [r[series] for r in rows])
    return str(chart.render(is_unicode=True))


def _staff(rows: Sequence[Row]) -> str:
    chart = _chart("HorizontalBar", title="Sales per store")
    stores = [r for r in rows if r["kind"] == "store"]
    chart.x_labels = [r["staff_id"] for r in stores]
    chart.add("revenue", [r["revenue"] for r in stores])
    return str(chart.render(is_unicode=True))


DRAW: dict[Chart, Callable[[Sequence[Row]], str]] = {
    Chart.YEAR_ON_YEAR: _year_on_year,
    Chart.SEASONS: _seasonal("month", MONTHS),
    Chart.WEEKDAYS: _seasonal("weekday", WEEKDAYS),
    Chart.CAMPAIGNS: _campaigns,
    Chart.INTERESTS: _interests,
    Chart.SURVEY_PROBLEMS: _survey_problems,
    Chart.CUSTOMERS: _customers,
    Chart.STAFF: _staff,
}


def svg(chart: Chart, rows: Sequence[Row]) -> str:
    return DRAW[chart](rows)


def _cross_reference_table(rows: Sequence[Row], k: int) -> str:
    def cell(value: object) -> str:
        return "—" if value is None else html.escape(str(value))

    body = "".join(
        f"<tr><td>{cell(r['age_band'])}</td><td>{cell(r['income_band'])}</td>"
        f"<td>{cell(r['customers'])}</td><td>{cell(r['average_spend'])}</td>"
        f"<td>{cell(r['satisfaction'])}</td></tr>"
        for r in rows
    )
    return (
        f"<h2>Age and income bands against spend and satisfaction</h2>"
        f"<p>Cells of fewer than {k} customers are suppressed (—).</p>"
        "<table><thead><tr><th>age band</th><th>income band</th><th>customers</th>"
        f"<th>average spend</th><th>satisfaction (1 to 5)</th></tr></thead><tbody>{body}</tbody>"
        "</table>"
    )


def page(charts: Sequence[str], cross_reference: Sequence[Row], k: int) -> str:
    """The standalone analytics page: every chart inline, then the cross-reference."""
    figures = "".join(f"<figure>{chart}</figure>" for chart in charts)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>touchlog — analytics</title><style>body{font-family:sans-serif;margin:2em}"
        "figure{display:inline-block;margin:0 1em 1em 0}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .6em}</style></head><body>"
        "<h1>Analytics</h1><p>Figures from the metrics rollups; CSV of each at "
        "<code>/analytics/{report}?format=csv</code>.</p>"
        f"{figures}{_cross_reference_table(cross_reference, k)}</body></html>"
    )
