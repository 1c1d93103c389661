"""``/reports``: the incident report for a range, as tables and server-side SVG charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsbook.core.auth import Principal
from opsbook.core.web.templating import render
from opsbook.core.web.ui import page_principal
from opsbook.incidents.http import runtime_of
from opsbook.incidents.reports.chart import durations_chart, pages_chart
from opsbook.incidents.reports.hours import BUCKET_LABELS, BUCKETS
from opsbook.incidents.reports.period import parse_period
from opsbook.incidents.reports.service import GROUPINGS, GroupBy, incident_report

router = APIRouter(include_in_schema=False)


@router.get("/reports")
def reports_page(
    request: Request,
    start: str = "",
    end: str = "",
    by: str = "severity",
    principal: Principal = Depends(page_principal),
) -> HTMLResponse:
    """``?start=2026-03-01&end=2026-03-31&by=service`` (dates in the service's time zone)."""
    runtime = runtime_of(request)
    zone = runtime.config.service.timezone
    group: GroupBy = "service" if by == "service" else "severity"
    context: dict[str, Any] = {
        "start": start,
        "end": end,
        "by": group,
        "groupings": GROUPINGS,
        "zone": zone.key,
    }
    try:
        since, until = parse_period(start or None, end or None, now=runtime.clock.now(), zone=zone)
    except ValueError as exc:
        return render(request, "incidents/reports.html", status_code=422, error=str(exc), **context)
    with runtime.db.read_session() as session:
        report = incident_report(session, config=runtime.config, start=since, end=until, by=group)
    return render(
        request,
        "incidents/reports.html",
        report=report,
        since=since.astimezone(zone),
        until=until.astimezone(zone),
        buckets=[(b, BUCKET_LABELS[b]) for b in BUCKETS],
        pages_svg=pages_chart(report.people),
        durations_svg=durations_chart(report.groups),
        **context,
    )
