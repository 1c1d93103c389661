"""Operator pages of the status page: the public-update form and the status overview.

``_public_update_form.html`` is a standalone partial: any page may include it with a
``public_update`` context from :func:`public_update_context` (the incident page does),
and it posts to ``POST /ui/incidents/{number}/public-update``, which answers with a
303 back to the form's ``next`` (or to ``GET /ui/incidents/{number}/public-update``,
a page of its own around the same partial).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config import OpsbookConfig
from opsbook.core import auth
from opsbook.core.auth import Principal
from opsbook.core.web.templating import add_template_dir, render
from opsbook.core.web.ui import page_principal
from opsbook.incidents.models import Incident
from opsbook.incidents.state import OPEN_STATUSES
from opsbook.status import service
from opsbook.status.components import STATUS_LABELS, catalogue, resolve_component
from opsbook.status.config import COMPONENT_STATUSES, PUBLIC_STATUSES
from opsbook.status.page import PUBLIC_UPDATE_LABELS, TEMPLATES
from opsbook.status.state import read_state
from opsbook.status.wording import message_for, title_for

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(include_in_schema=False)
add_template_dir(TEMPLATES)
FORM_PATH = "/ui/incidents/{number}/public-update"


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def public_update_context(
    session: Session, *, config: OpsbookConfig, incident: Incident, next_path: str | None = None
) -> dict[str, Any]:
    """What ``_public_update_form.html`` needs for ``incident``.

    >>> context["public_update"] = public_update_context(session, config=config,
    ...                                                  incident=incident, next_path=url)
    """
    current = next(
        iter(service.public_incidents(session, published=None, incident_id=incident.id, limit=1)),
        None,
    )
    latest = service.latest_update(session, incident_id=current.id) if current else None
    declared = dict(latest.component_statuses) if latest else {}
    known = catalogue(config)
    if not declared:
        for ref in incident.components:
            try:
                component = resolve_component(known, ref)
            except ValueError:
                continue
            declared[component.id] = config.status_page.incident_impact[incident.severity]  # type: ignore[index]
    allowed = (
        list(service.TRANSITIONS[current.status])
        if current is not None and service.TRANSITIONS[current.status]
        else ["investigating", "identified", "monitoring"]
    )
    default = next(
        (
            s
            for s in ("identified", "monitoring", "resolved")
            if s in allowed and current is not None and s != current.status
        ),
        allowed[0],
    )
    names = [c.name for c in known if c.id in declared]
    page = config.status_page
    return {
        "number": incident.number,
        "action": FORM_PATH.format(number=incident.number),
        "next": next_path or FORM_PATH.format(number=incident.number) + "?posted=true",
        "current": current,
        "draft": current is not None and current.published_at is None,
        "latest": latest,
        "statuses": [(s, PUBLIC_UPDATE_LABELS[s]) for s in allowed],
        "default_status": default,
        "title": title_for(config=config, page=page, component_names=names),
        "templates": [
            (
                PUBLIC_UPDATE_LABELS[s],
                message_for(s, config=config, page=page, component_names=names),
            )
            for s in PUBLIC_STATUSES
        ],
        "components": [
            {"id": c.id, "name": c.name, "status": declared.get(c.id, "")} for c in known
        ],
        "component_statuses": [(s, STATUS_LABELS[s]) for s in COMPONENT_STATUSES],
    }


def _incident(session: Session, number: int) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.number == number))


async def _form_principal(request: Request, role: auth.Role) -> tuple[Principal, Any]:
    principal = await page_principal(request)
    form = await request.form()
    if principal.kind == "session" and not auth.csrf_matches(
        principal.csrf_token, str(form.get("csrf_token") or "")
    ):
        raise _Refused(403, "Your form expired (missing or wrong CSRF token); reload the page.")
    if not principal.allows(role):
        raise _Refused(403, f"This needs the {role} role; you have {principal.role}.")
    return principal, form


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _safe_next(value: str | None, fallback: str) -> str:
    if not value or not value.startswith("/") or value.startswith("//"):
        return fallback
    return value


def _form_page(
    request: Request,
    number: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    posted: bool = False,
) -> HTMLResponse:
    runtime = _runtime(request)
    with runtime.db.read_session() as session:
        incident = _incident(session, number)
        if incident is None:
            return render(
                request,
                "status_form_page.html",
                status_code=404,
                incident=None,
                error=f"No incident #{number}.",
                public_update=None,
                posted=False,
            )
        context = public_update_context(session, config=runtime.config, incident=incident)
    return render(
        request,
        "status_form_page.html",
        status_code=status_code,
        incident=incident,
        public_update=context,
        error=error,
        posted=posted,
    )


@router.get("/ui/incidents/{number}/public-update")
async def public_update_page(request: Request, number: int, posted: bool = False) -> Response:
    await page_principal(request)
    return await asyncio.to_thread(_form_page, request, number, posted=posted)


@router.post("/ui/incidents/{number}/public-update")
async def post_public_update(request: Request, number: int) -> Response:
    try:
        principal, form = await _form_principal(request, "responder")
    except _Refused as exc:
        return await asyncio.to_thread(
            _form_page, request, number, error=str(exc), status_code=exc.status
        )
    runtime = _runtime(request)
    config = runtime.config
    status = str(form.get("status") or "")
    statuses = {
        str(key).removeprefix("component:"): str(value)
        for key, value in form.multi_items()
        if str(key).startswith("component:") and value
    }

    def work() -> None:
        with runtime.db.session() as session, session.begin():
            service.post_for_incident(
                session,
                config=config,
                number=number,
                status=status,
                body=str(form.get("message") or "") or None,
                component_statuses=service.parse_component_statuses(config, statuses),
                name=str(form.get("name") or "") or None,
                notify=form.get("notify") == "on",
                by=principal.actor,
                now=runtime.clock.now(),
            )

    try:
        if status not in PUBLIC_STATUSES:
            raise service.StatusError(f"choose a state: {', '.join(PUBLIC_STATUSES)}")
        await asyncio.to_thread(work)
    except service.StatusNotFound as exc:
        return await asyncio.to_thread(
            _form_page, request, number, error=str(exc.args[0]), status_code=404
        )
    except service.StatusError as exc:
        return await asyncio.to_thread(_form_page, request, number, error=str(exc), status_code=409)
    fallback = FORM_PATH.format(number=number) + "?posted=true"
    return RedirectResponse(_safe_next(str(form.get("next") or ""), fallback), status_code=303)


def _overview(request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    config = runtime.config
    with runtime.db.read_session() as session:
        state = read_state(session, config=config, now=runtime.clock.now())
        drafts = service.public_incidents(session, published=False)
        awaiting = service.awaiting_resolution(session)
        open_incidents = list(
            session.scalars(
                select(Incident)
                .where(Incident.status.in_(sorted(OPEN_STATUSES)))
                .order_by(Incident.number.desc())
                .limit(50)
            )
        )
    return {
        "state": state,
        "drafts": drafts,
        "awaiting": awaiting,
        "open_incidents": open_incidents,
        "labels": PUBLIC_UPDATE_LABELS,
        "status_labels": STATUS_LABELS,
    }


@router.get("/ui/status")
async def overview(request: Request) -> HTMLResponse:
    """The status page from the inside: drafts, prompts, components and their sources."""
    await page_principal(request)
    return render(request, "status_overview.html", **await asyncio.to_thread(_overview, request))


@router.post("/ui/status/incidents/{code}/publish")
async def publish_draft(request: Request, code: str) -> Response:
    return await _overview_action(
        request, lambda session, by, now: service.publish(session, code=code, by=by, now=now)
    )


@router.post("/ui/status/incidents/{code}/resolve")
async def resolve_public(request: Request, code: str) -> Response:
    """The dashboard's prompt: post the configured resolved update."""
    config = _runtime(request).config

    def act(session: Session, by: str, now: Any) -> None:
        incident = service.get_public_incident(session, code=code)
        names = {c.id: c.name for c in catalogue(config)}
        text = message_for(
            "resolved",
            config=config,
            page=config.status_page,
            component_names=[names.get(c, c) for c in incident.components],
        )
        service.post_update(session, code=code, status="resolved", body=text, by=by, now=now)

    return await _overview_action(request, act)


async def _overview_action(request: Request, action: Any) -> Response:
    try:
        principal, form = await _form_principal(request, "responder")
    except _Refused as exc:
        return HTMLResponse(str(exc), status_code=exc.status)
    runtime = _runtime(request)

    def work() -> None:
        with runtime.db.session() as session, session.begin():
            action(session, principal.actor, runtime.clock.now())

    try:
        await asyncio.to_thread(work)
    except (service.StatusError, service.StatusNotFound) as exc:
        return RedirectResponse("/ui/status?error=" + quote(str(exc.args[0])), status_code=303)
    return RedirectResponse(_safe_next(str(form.get("next") or ""), "/ui/status"), status_code=303)
