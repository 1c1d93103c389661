"""The incident page's forms for the record: roles, notes, output, checklist, impact.

They share :func:`opsbook.incidents.ui.act` with the lifecycle buttons in
:mod:`opsbook.incidents.ui`: responder role and CSRF token required, a redirect back to
the incident, or the page with the reason (409).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.core.auth import Principal
from opsbook.core.security import require
from opsbook.incidents.errors import IncidentError
from opsbook.incidents.models import Incident
from opsbook.incidents.ui import act

router = APIRouter(include_in_schema=False)
_responder = require("responder")


@router.post("/incidents/{number}/assign")
def assign(
    request: Request,
    number: int,
    role: str = Form(""),
    person: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    def give(session: Session, incident: Incident, now: datetime, by: str) -> object:
        if not person.strip():
            raise IncidentError("choose who takes the role")
        return incidents.assign_role(
            session, incident_id=incident.id, role=role, person=person.strip(), by=by, now=now
        )

    return act(request, principal, number, give)


@router.post("/incidents/{number}/unassign")
def unassign(
    request: Request,
    number: int,
    role: str = Form(""),
    person: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.remove_role(
            session, incident_id=incident.id, role=role, person=person, by=by, now=now
        ),
    )


@router.post("/incidents/{number}/note")
def note(
    request: Request,
    number: int,
    markdown: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.add_note(
            session, incident_id=incident.id, markdown=markdown, by=by, now=now
        ),
    )


@router.post("/incidents/{number}/output")
def output(
    request: Request,
    number: int,
    label: str = Form(""),
    text: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    def attach(session: Session, incident: Incident, now: datetime, by: str) -> object:
        if not label.strip() or not text.strip():
            raise IncidentError("attached output needs a label and some text")
        return incidents.attach_output(
            session, incident_id=incident.id, text=text, label=label.strip(), by=by, now=now
        )

    return act(request, principal, number, attach)


@router.post("/incidents/{number}/tick")
def tick(
    request: Request,
    number: int,
    position: int = Form(0),
    principal: Principal = Depends(_responder),
) -> Response:
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.tick_checklist(
            session, incident_id=incident.id, item=position, by=by, now=now
        ),
    )


@router.post("/incidents/{number}/impact")
def impact(
    request: Request,
    number: int,
    components: str = Form(""),
    users_affected: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    names = [name.strip() for name in components.split(",") if name.strip()]

    def estimate(session: Session, incident: Incident, now: datetime, by: str) -> object:
        users = users_affected.strip().replace(",", "")
        if users and not users.isdigit():
            raise IncidentError("users affected must be a whole number")
        return incidents.set_impact(
            session,
            incident_id=incident.id,
            components=names,
            users_affected=int(users) if users else None,
            by=by,
            now=now,
        )

    return act(request, principal, number, estimate)
