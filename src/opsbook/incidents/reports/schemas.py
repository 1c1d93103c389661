"""The JSON shape of a report: ``opsbook report --json`` and ``GET /api/v1/reports/incidents``."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from opsbook.incidents.reports.service import GroupStats, IncidentReport


class GroupOut(BaseModel):
    key: str
    incidents: int
    acknowledged: int
    resolved: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    breaches: int
    escalations: int


class PersonOut(BaseModel):
    person: str
    name: str
    timezone: str
    pages: int
    business_hours: int
    off_hours: int
    sleep_hours: int
    acknowledgements: int


class ReportOut(BaseModel):
    start: datetime
    end: datetime
    by: str | None
    total: GroupOut
    groups: list[GroupOut]
    people: list[PersonOut]


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def _group(stats: GroupStats) -> GroupOut:
    return GroupOut(
        key=stats.key,
        incidents=stats.incidents,
        acknowledged=stats.acknowledged,
        resolved=stats.resolved,
        mtta_seconds=_seconds(stats.mtta),
        mttr_seconds=_seconds(stats.mttr),
        breaches=stats.breaches,
        escalations=stats.escalations,
    )


def report_out(report: IncidentReport) -> ReportOut:
    return ReportOut(
        start=report.start,
        end=report.end,
        by=report.by,
        total=_group(report.total),
        groups=[_group(g) for g in report.groups],
        people=[
            PersonOut(
                person=p.person,
                name=p.name,
                timezone=p.timezone,
                pages=p.pages,
                business_hours=p.business_hours,
                off_hours=p.off_hours,
                sleep_hours=p.sleep_hours,
                acknowledgements=p.acknowledgements,
            )
            for p in report.people
        ],
    )
