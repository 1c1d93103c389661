"""Postmortem pages: view and edit sections, move the status, action items, export links.

Like the incident pages: any role reads, the forms need responder and the CSRF token,
and each form post answers with a redirect, or with the page and the reason (409) when
the postmortem refuses the change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.core.auth import Principal
from opsbook.core.security import require
from opsbook.core.web.templating import render
from opsbook.core.web.ui import page_principal
from opsbook.incidents.errors import IncidentError, IncidentNotFound
from opsbook.incidents.http import runtime_of
from opsbook.incidents.postmortems import action_items, service
from opsbook.incidents.postmortems.models import Postmortem
from opsbook.incidents.postmortems.schemas import (
    action_items_out,
    postmortem_detail,
    postmortem_out,
)
from opsbook.incidents.postmortems.state import (
    ACTION_ITEM_STATUSES,
    ACTION_ITEM_TRANSITIONS,
    POSTMORTEM_STATUSES,
    POSTMORTEM_TRANSITIONS,
)

router = APIRouter(include_in_schema=False)
_responder = require("responder")
Change = Callable[[Session, Postmortem, datetime, str], object]


def _page(
    request: Request, number: int, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    runtime = runtime_of(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    with runtime.db.read_session() as session:
        try:
            incident = incidents.get_incident(session, number=number)
        except IncidentNotFound as exc:
            return render(request, "incidents/missing.html", status_code=404, message=str(exc))
        postmortem = service.find_postmortem(session, incident_id=incident.id)
        detail = (
            None
            if postmortem is None
            else postmortem_detail(
                session, postmortem, config=runtime.config, now=runtime.clock.now()
            )
        )
    return render(
        request,
        "incidents/postmortem.html",
        status_code=status_code if detail is not None or error else 404,
        error=error,
        incident=incident,
        postmortem=detail,
        statuses=POSTMORTEM_TRANSITIONS[detail.status] if detail else (),  # type: ignore[index]
        item_moves=ACTION_ITEM_TRANSITIONS,
        people=runtime.config.people,
        can_act=principal is not None and principal.allows("responder"),
        today=runtime.clock.now().astimezone(runtime.config.service.timezone).date(),
    )


def _change(
    request: Request, principal: Principal, number: int, change: Change, *, anchor: str = ""
) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.session() as session, session.begin():
            incident = incidents.get_incident(session, number=number)
            postmortem = service.get_postmortem(session, incident_id=incident.id)
            change(session, postmortem, runtime.clock.now(), principal.actor)
    except IncidentNotFound:
        return _page(request, number)
    except (IncidentError, ValueError) as exc:
        return _page(request, number, error=str(exc), status_code=409)
    return RedirectResponse(f"/incidents/{number}/postmortem{anchor}", status_code=303)


@router.get("/incidents/{number}/postmortem")
def postmortem_page(
    request: Request, number: int, principal: Principal = Depends(page_principal)
) -> HTMLResponse:
    return _page(request, number)


@router.post("/incidents/{number}/postmortem")
def draft(request: Request, number: int, principal: Principal = Depends(_responder)) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.session() as session, session.begin():
            incident = incidents.get_incident(session, number=number)
            service.draft_postmortem(
                session,
                config=runtime.config,
                incident_id=incident.id,
                by=principal.actor,
                now=runtime.clock.now(),
            )
    except IncidentNotFound:
        return _page(request, number)
    except IncidentError as exc:
        return _page(request, number, error=str(exc), status_code=409)
    return RedirectResponse(f"/incidents/{number}/postmortem", status_code=303)


@router.post("/incidents/{number}/postmortem/sections/{key}")
def write_section(
    request: Request,
    number: int,
    key: str,
    markdown: str = Form(""),
    version: int | None = Form(None),
    principal: Principal = Depends(_responder),
) -> Response:
    return _change(
        request,
        principal,
        number,
        lambda session, postmortem, now, by: service.write_section(
            session,
            postmortem_id=postmortem.id,
            key=key,
            markdown=markdown,
            by=by,
            now=now,
            expected_version=version,
        ),
        anchor=f"#section-{key}",
    )


@router.post("/incidents/{number}/postmortem/status")
def set_status(
    request: Request,
    number: int,
    to: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    return _change(
        request,
        principal,
        number,
        lambda session, postmortem, now, by: service.set_postmortem_status(
            session, postmortem_id=postmortem.id, to=to, by=by, now=now
        ),
    )


def _due(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise IncidentError(f"the due date must be a day like 2026-03-31, not {text!r}") from None


@router.post("/incidents/{number}/postmortem/action-items")
def add_action_item(
    request: Request,
    number: int,
    title: str = Form(""),
    owner: str = Form(""),
    due_on: str = Form(""),
    principal: Principal = Depends(_responder),
) -> Response:
    config = runtime_of(request).config
    return _change(
        request,
        principal,
        number,
        lambda session, postmortem, now, by: action_items.add_action_item(
            session,
            config=config,
            postmortem_id=postmortem.id,
            title=title,
            owner=owner,
            due_on=_due(due_on),
            by=by,
            now=now,
        ),
        anchor="#action-items",
    )


@router.post("/action-items/{item_id}")
def change_action_item(
    request: Request,
    item_id: int,
    status: str = Form(""),
    back: str = Form("/action-items"),
    principal: Principal = Depends(_responder),
) -> Response:
    """Move an action item (the buttons on the postmortem and action-items pages)."""
    runtime = runtime_of(request)
    target = back if back.startswith("/") and not back.startswith("//") else "/action-items"
    try:
        with runtime.db.session() as session, session.begin():
            action_items.change_action_item(
                session,
                config=runtime.config,
                item_id=item_id,
                status=status or None,
                by=principal.actor,
                now=runtime.clock.now(),
            )
    except (IncidentNotFound, IncidentError) as exc:
        return _items_page(request, error=str(exc), status_code=409)
    return RedirectResponse(target, status_code=303)


@router.get("/postmortems")
def postmortem_list(
    request: Request, status: str = "", principal: Principal = Depends(page_principal)
) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        rows = [
            postmortem_out(postmortem, incident, config=runtime.config, now=now)
            for postmortem, incident in service.list_postmortems(
                session, status=status if status in POSTMORTEM_STATUSES else None
            )
        ]
    return render(
        request,
        "incidents/postmortems.html",
        postmortems=rows,
        status=status,
        statuses=POSTMORTEM_STATUSES,
    )


def _items_page(
    request: Request,
    *,
    overdue: bool = False,
    owner: str = "",
    status: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    runtime = runtime_of(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        found = action_items.list_action_items(
            session,
            config=runtime.config,
            now=now,
            status=[status] if status in ACTION_ITEM_STATUSES else None,
            owner=owner or None,
            overdue=overdue,
        )
        items = action_items_out(session, found, config=runtime.config, now=now)
    context: dict[str, Any] = {
        "items": items,
        "overdue": overdue,
        "owner": owner,
        "status": status,
        "statuses": ACTION_ITEM_STATUSES,
        "item_moves": ACTION_ITEM_TRANSITIONS,
        "people": runtime.config.people,
        "can_act": principal is not None and principal.allows("responder"),
        "error": error,
    }
    return render(request, "incidents/action_items.html", status_code=status_code, **context)


@router.get("/action-items")
def action_items_page(
    request: Request,
    overdue: bool = False,
    owner: str = "",
    status: str = "",
    principal: Principal = Depends(page_principal),
) -> HTMLResponse:
    return _items_page(request, overdue=overdue, owner=owner, status=status)
