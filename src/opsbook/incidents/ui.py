"""The incident pages: the list, an incident with its timeline, and the actions on it.

Pages read with any role; every form posts to a route that needs the responder role and
the session's CSRF token (``require("responder")``), so a viewer sees no buttons and
cannot act by posting either.  Forms are plain HTML posts answered with a redirect
(POST/redirect/GET), so the pages work without JavaScript; with it, htmx refreshes the
live part of an incident page every few seconds.  A refusal (a move the transition
table does not allow, an empty note) shows the page again with the reason, as a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.config.defaults import SEVERITIES
from opsbook.core.auth import Principal
from opsbook.core.security import require
from opsbook.core.web.templating import add_template_dir, render, templates
from opsbook.core.web.ui import page_principal
from opsbook.incidents.errors import IncidentError, IncidentNotFound, TransitionNotAllowed
from opsbook.incidents.http import runtime_of
from opsbook.incidents.markdown import render_markdown
from opsbook.incidents.models import Incident, IncidentEvent
from opsbook.incidents.postmortems.service import deadline_of, find_postmortem
from opsbook.incidents.postmortems.template import span, stamp
from opsbook.incidents.schemas import incident_detail, incident_out
from opsbook.incidents.state import STATUSES, TRANSITIONS
from opsbook.incidents.targets import ack_target

router = APIRouter(include_in_schema=False)
TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
LIVE_REFRESH: Final = "5s"
_responder = require("responder")
Action = Callable[[Session, Incident, datetime, str], object]


# app.state.incident_panels maps a context name to one of these: a later domain's panel
# on the incident page (the status page's public-update form), without incidents
# importing that domain.
IncidentPanel = Callable[..., dict[str, Any]]


def setup_templates() -> None:
    """Put the incident templates beside the base layout, with their filters."""
    add_template_dir(TEMPLATES_DIR)
    templates.env.filters.update(markdown=render_markdown, utc=stamp, span=span)


def _entry_view(entry: IncidentEvent) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": entry.id,
        "at": entry.at,
        "kind": entry.kind,
        "label": entry.kind.replace("_", " "),
        "actor": entry.actor,
        "body": entry.body,
        "data": entry.data,
    }
    if entry.kind == "note":
        view["html"] = render_markdown(entry.body)
        if entry.data.get("corrects"):
            view["label"] = f"note (corrects entry {entry.data['corrects']})"
    elif entry.kind == "output_attached":
        view["label"] = f"output: {entry.data.get('label', '')}"
    elif entry.kind in ("status_changed", "severity_changed"):
        reason = entry.data.get("reason")
        view["body"] = f"{entry.data.get('from')} → {entry.data.get('to')}" + (
            f": {reason}" if reason else ""
        )
    return view


def _live_context(request: Request, session: Session, incident: Incident) -> dict[str, Any]:
    runtime = runtime_of(request)
    config = runtime.config
    now = runtime.clock.now()
    level = config.severities[incident.severity]  # type: ignore[index]
    postmortem = find_postmortem(session, incident_id=incident.id)
    respond_by = (
        incident.triggered_at + ack_target(level)
        if incident.status == "triggered" and incident.breached_at is None
        else None
    )
    principal: Principal | None = getattr(request.state, "principal", None)
    return {
        "incident": incident_detail(session, incident),
        "timeline": [_entry_view(e) for e in incidents.timeline(session, incident_id=incident.id)],
        "meaning": level.meaning,
        "respond_by": respond_by,
        "postmortem": postmortem,
        "postmortem_deadline": deadline_of(incident, postmortem, config=config, now=now),
        "can_act": principal is not None and principal.allows("responder"),
        "refresh": LIVE_REFRESH,
    }


def _incident_page(
    request: Request, number: int, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.db.read_session() as session:
        try:
            incident = incidents.get_incident(session, number=number)
        except IncidentNotFound as exc:
            return render(request, "incidents/missing.html", status_code=404, message=str(exc))
        context = _live_context(request, session, incident)
        for name, panel in getattr(request.app.state, "incident_panels", {}).items():
            context[name] = panel(
                session, config=runtime.config, incident=incident, next_path=request.url.path
            )
    return render(
        request,
        "incidents/page.html",
        status_code=status_code,
        error=error,
        statuses=TRANSITIONS[context["incident"].status],
        severities=SEVERITIES,
        roles=incidents.ROLES,
        people=runtime.config.people,
        **context,
    )


def act(request: Request, principal: Principal, number: int, action: Action) -> Response:
    """Run ``action`` on incident ``number`` in one transaction, then show the incident."""
    runtime = runtime_of(request)
    try:
        with runtime.db.session() as session, session.begin():
            incident = incidents.get_incident(session, number=number)
            action(session, incident, runtime.clock.now(), principal.actor)
    except IncidentNotFound:
        return _incident_page(request, number)
    except (IncidentError, TransitionNotAllowed, ValueError) as exc:
        return _incident_page(request, number, error=str(exc), status_code=409)
    return RedirectResponse(f"/incidents/{number}", status_code=303)


@router.get("/incidents")
def incident_list(
    request: Request,
    scope: str = "open",
    severity: str = "",
    service: str = "",
    principal: Principal = Depends(page_principal),
) -> HTMLResponse:
    runtime = runtime_of(request)
    with runtime.db.read_session() as session:
        found = incidents.list_incidents(
            session,
            severity=severity or None,
            service=service or None,
            open_only=scope != "all",
            limit=200,
        )
        rows = [incident_out(session, incident) for incident in found]
    return render(
        request,
        "incidents/list.html",
        incidents=rows,
        scope="all" if scope == "all" else "open",
        severity=severity,
        service=service,
        severities=SEVERITIES,
        can_act=principal.allows("responder"),
    )


@router.post("/incidents")
def declare(
    request: Request,
    title: str = Form(""),
    severity: str = Form(""),
    summary: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    """Declare an incident from the web: the same as ``opsbook incident open``."""
    runtime = runtime_of(request)
    try:
        with runtime.db.session() as session, session.begin():
            incident = incidents.open_incident(
                session,
                config=runtime.config,
                title=title,
                severity=severity,
                summary=summary,
                source="web",
                by=principal.actor,
                now=runtime.clock.now(),
            )
            number = incident.number
    except IncidentError as exc:
        return render(
            request,
            "incidents/list.html",
            status_code=409,
            error=str(exc),
            incidents=[],
            scope="open",
            severity="",
            service="",
            severities=SEVERITIES,
            can_act=True,
        )
    return RedirectResponse(f"/incidents/{number}", status_code=303)


@router.get("/incidents/{number}")
def incident_page(
    request: Request, number: int, principal: Principal = Depends(page_principal)
) -> HTMLResponse:
    return _incident_page(request, number)


@router.get("/incidents/{number}/live")
def incident_live(
    request: Request, number: int, principal: Principal = Depends(page_principal)
) -> HTMLResponse:
    """The part of the page htmx refreshes: status, roles, checklist, impact, timeline."""
    with runtime_of(request).db.read_session() as session:
        try:
            incident = incidents.get_incident(session, number=number)
        except IncidentNotFound as exc:
            return render(request, "incidents/missing.html", status_code=404, message=str(exc))
        context = _live_context(request, session, incident)
    return render(request, "incidents/_live.html", **context)


@router.post("/incidents/{number}/ack")
def ack(request: Request, number: int, principal: Principal = Depends(_responder)) -> Response:
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.acknowledge(
            session, incident_id=incident.id, by=by, now=now
        ),
    )


@router.post("/incidents/{number}/status")
def status(
    request: Request,
    number: int,
    to: str = Form(""),
    reason: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    config = runtime_of(request).config

    def move(session: Session, incident: Incident, now: datetime, by: str) -> object:
        if to not in STATUSES:
            raise IncidentError(f"unknown status {to!r}; expected one of {', '.join(STATUSES)}")
        return incidents.set_status(
            session, config=config, incident_id=incident.id, to=to, reason=reason, by=by, now=now
        )

    return act(request, principal, number, move)


@router.post("/incidents/{number}/resolve")
def resolve(
    request: Request,
    number: int,
    reason: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.resolve(
            session, incident_id=incident.id, reason=reason, by=by, now=now
        ),
    )


@router.post("/incidents/{number}/close")
def close(
    request: Request,
    number: int,
    reason: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    config = runtime_of(request).config
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.set_status(
            session,
            config=config,
            incident_id=incident.id,
            to="closed",
            reason=reason,
            by=by,
            now=now,
        ),
    )


@router.post("/incidents/{number}/severity")
def severity(
    request: Request,
    number: int,
    severity: str = Form(""),
    reason: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    config = runtime_of(request).config
    return act(
        request,
        principal,
        number,
        lambda session, incident, now, by: incidents.change_severity(
            session,
            config=config,
            incident_id=incident.id,
            severity=severity,
            reason=reason,
            by=by,
            now=now,
        ),
    )
