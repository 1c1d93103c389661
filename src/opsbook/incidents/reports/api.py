"""``GET /api/v1/reports/incidents``: the incident report for a range, as JSON."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request

from opsbook.core.security import viewer
from opsbook.incidents.http import runtime_of
from opsbook.incidents.reports.period import parse_period
from opsbook.incidents.reports.schemas import ReportOut, report_out
from opsbook.incidents.reports.service import GroupBy, incident_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/incidents", response_model=ReportOut, dependencies=[viewer])
def incidents_report(
    request: Request,
    start: str | None = Query(
        None,
        alias="from",
        description="A date (service time zone) or a date-time; default 30 days ago",
    ),
    end: str | None = Query(
        None, alias="to", description="A date (inclusive) or a date-time (exclusive); default now"
    ),
    by: GroupBy | None = Query(None, description="Group by severity or service"),
) -> ReportOut:
    """MTTA, MTTR, counts, breaches and pages per person (docs/incidents.md, "Reports")."""
    runtime = runtime_of(request)
    config = runtime.config
    try:
        since, until = parse_period(
            start, end, now=runtime.clock.now(), zone=config.service.timezone
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    with runtime.db.read_session() as session:
        report = incident_report(session, config=config, start=since, end=until, by=by)
    return report_out(report)
