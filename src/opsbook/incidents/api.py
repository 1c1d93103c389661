"""HTTP endpoints of the incidents domain: ``/api/v1/incidents``.

URLs name incidents by their human number (``/api/v1/incidents/42``).  Errors:

- 404: no incident with that number;
- 409: the incident service refused the change: a move the transition table does not
  allow, an action on a closed incident, or a stale ``If-Match`` version;
- 422: the request itself is malformed (an unknown status, severity or role, a missing
  field, an ``If-Match`` that is not a version number).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.config.defaults import Severity
from opsbook.core.auth import Principal
from opsbook.core.security import require, viewer
from opsbook.incidents.http import expected_version, refusals, runtime_of
from opsbook.incidents.models import Incident
from opsbook.incidents.schemas import (
    ChecklistTickIn,
    EventOut,
    ImpactIn,
    IncidentDetail,
    IncidentOpen,
    IncidentOut,
    MergeIn,
    NoteIn,
    OutputIn,
    ReasonIn,
    RoleChange,
    SeverityChange,
    StatusChange,
    TickOut,
    incident_detail,
    incident_out,
)
from opsbook.incidents.state import Status

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
_responder = require("responder")
T = TypeVar("T")


def _find(session: Session, number: int) -> Incident:
    return incidents.get_incident(session, number=number)


def _act(
    request: Request,
    number: int,
    action: Callable[[Session, int, datetime], T],
) -> tuple[T, IncidentDetail]:
    """Run ``action(session, incident_id, now)`` in one transaction; return it and the detail."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.session() as session, session.begin():
        incident = _find(session, number)
        result = action(session, incident.id, runtime.clock.now())
        session.refresh(incident)
        return result, incident_detail(session, incident)


@router.get("", response_model=list[IncidentOut], dependencies=[viewer])
def list_incidents(
    request: Request,
    status: Status | None = None,
    severity: Severity | None = None,
    service: str | None = None,
    open: bool = Query(False, description="Only incidents not yet resolved or closed"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[IncidentOut]:
    """Newest first."""
    with runtime_of(request).db.read_session() as session:
        found = incidents.list_incidents(
            session, status=status, severity=severity, service=service, open_only=open, limit=limit
        )
        return [incident_out(session, incident) for incident in found]


@router.post("", response_model=IncidentDetail, status_code=201)
def open_incident(
    request: Request, body: IncidentOpen, principal: Principal = Depends(_responder)
) -> IncidentDetail:
    """Open an incident: its checklist, response targets and notifications come with it."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.session() as session, session.begin():
        incident = incidents.open_incident(
            session,
            config=runtime.config,
            title=body.title,
            severity=body.severity,
            service=body.service,
            summary=body.summary,
            components=body.components,
            users_affected=body.users_affected,
            source="api",
            by=principal.actor,
            now=runtime.clock.now(),
        )
        return incident_detail(session, incident)


@router.get("/{number}", response_model=IncidentDetail, dependencies=[viewer])
def get_incident(request: Request, response: Response, number: int) -> IncidentDetail:
    """The incident with its roles, checklist and alerts; the ETag is its version."""
    with refusals(), runtime_of(request).db.read_session() as session:
        detail = incident_detail(session, _find(session, number))
    response.headers["ETag"] = f'"{detail.version}"'
    return detail


@router.get("/{number}/timeline", response_model=list[EventOut], dependencies=[viewer])
def get_timeline(
    request: Request,
    number: int,
    kind: list[str] | None = Query(None, description="Only entries of these kinds"),
) -> list[EventOut]:
    """Every entry in the order it was written."""
    with refusals(), runtime_of(request).db.read_session() as session:
        incident = _find(session, number)
        entries = incidents.timeline(session, incident_id=incident.id, kinds=kind)
        return [EventOut.model_validate(entry) for entry in entries]


@router.post("/{number}/ack", response_model=IncidentDetail)
def acknowledge(
    request: Request,
    number: int,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Acknowledge; on an incident past ``triggered`` this changes nothing."""
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.acknowledge(
            session, incident_id=incident_id, by=principal.actor, now=now, expected_version=version
        ),
    )
    return detail


@router.post("/{number}/status", response_model=IncidentDetail)
def set_status(
    request: Request,
    number: int,
    body: StatusChange,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Move the incident as the transition table allows (docs/incidents.md)."""
    config = runtime_of(request).config
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.set_status(
            session,
            config=config,
            incident_id=incident_id,
            to=body.to,
            reason=body.reason,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/severity", response_model=IncidentDetail)
def change_severity(
    request: Request,
    number: int,
    body: SeverityChange,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    config = runtime_of(request).config
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.change_severity(
            session,
            config=config,
            incident_id=incident_id,
            severity=body.severity,
            reason=body.reason,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/assign", response_model=IncidentDetail)
def assign_role(
    request: Request,
    number: int,
    body: RoleChange,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Give a person a role; a commander, communications lead or scribe is replaced."""
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.assign_role(
            session,
            incident_id=incident_id,
            role=body.role,
            person=body.person,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/unassign", response_model=IncidentDetail)
def remove_role(
    request: Request,
    number: int,
    body: RoleChange,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.remove_role(
            session,
            incident_id=incident_id,
            role=body.role,
            person=body.person,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/note", response_model=EventOut, status_code=201)
def add_note(
    request: Request, number: int, body: NoteIn, principal: Principal = Depends(_responder)
) -> EventOut:
    """Add a markdown note; ``corrects`` names an earlier timeline entry it corrects."""
    entry, _ = _act(
        request,
        number,
        lambda session, incident_id, now: EventOut.model_validate(
            incidents.add_note(
                session,
                incident_id=incident_id,
                markdown=body.markdown,
                corrects=body.corrects,
                by=principal.actor,
                now=now,
            )
        ),
    )
    return entry


@router.post("/{number}/output", response_model=EventOut, status_code=201)
def attach_output(
    request: Request, number: int, body: OutputIn, principal: Principal = Depends(_responder)
) -> EventOut:
    """Attach command or check output, kept verbatim (long output is cut, and says so)."""
    entry, _ = _act(
        request,
        number,
        lambda session, incident_id, now: EventOut.model_validate(
            incidents.attach_output(
                session,
                incident_id=incident_id,
                text=body.text,
                label=body.label,
                by=principal.actor,
                now=now,
            )
        ),
    )
    return entry


@router.post("/{number}/checklist", response_model=TickOut)
def tick_checklist(
    request: Request,
    number: int,
    body: ChecklistTickIn,
    principal: Principal = Depends(_responder),
) -> TickOut:
    """Tick an item by position or text; ticking a done item changes nothing."""
    tick, _ = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.tick_checklist(
            session, incident_id=incident_id, item=body.item, by=principal.actor, now=now
        ),
    )
    return TickOut(
        position=tick.position,
        item=tick.item,
        done_at=tick.done_at,
        done_by=tick.done_by,
        changed=tick.changed,
        message=tick.message,
    )


@router.post("/{number}/impact", response_model=IncidentDetail)
def set_impact(
    request: Request,
    number: int,
    body: ImpactIn,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Replace the affected components and/or the users-affected estimate (absent: keep)."""
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.set_impact(
            session,
            incident_id=incident_id,
            components=body.components,
            users_affected=body.users_affected,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/resolve", response_model=IncidentDetail)
def resolve(
    request: Request,
    number: int,
    body: ReasonIn | None = None,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Resolve; on a resolved or closed incident this changes nothing."""
    reason = body.reason if body else ""
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.resolve(
            session,
            incident_id=incident_id,
            reason=reason,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/close", response_model=IncidentDetail)
def close(
    request: Request,
    number: int,
    body: ReasonIn | None = None,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Close a resolved incident (a status change to ``closed``)."""
    config = runtime_of(request).config
    reason = body.reason if body else ""
    _, detail = _act(
        request,
        number,
        lambda session, incident_id, now: incidents.set_status(
            session,
            config=config,
            incident_id=incident_id,
            to="closed",
            reason=reason,
            by=principal.actor,
            now=now,
            expected_version=version,
        ),
    )
    return detail


@router.post("/{number}/merge", response_model=IncidentDetail)
def merge(
    request: Request,
    number: int,
    body: MergeIn,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> IncidentDetail:
    """Merge this incident into ``into``; answers with the incident merged into."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.session() as session, session.begin():
        source = _find(session, number)
        into = _find(session, body.into)
        kept = incidents.merge(
            session,
            source_id=source.id,
            into_id=into.id,
            reason=body.reason,
            by=principal.actor,
            now=runtime.clock.now(),
            expected_version=version,
        )
        session.refresh(kept)
        return incident_detail(session, kept)
