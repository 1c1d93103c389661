"""The on-call web page: current shifts, the coming two weeks, overrides, policies.

Readable without JavaScript; forms carry the session's CSRF token and need the
responder role.  Times a person types (``datetime-local`` fields) are wall-clock time in
the schedule's zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsbook.core import auth
from opsbook.core.auth import Principal
from opsbook.core.web.templating import add_template_dir, render
from opsbook.core.web.ui import page_principal
from opsbook.oncall import service
from opsbook.oncall.linkpages import TEMPLATE_DIR
from opsbook.oncall.rotation import wall_to_instant
from opsbook.oncall.service import OncallError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from opsbook.config.schema import OpsbookConfig
    from opsbook.runtime import Runtime

router = APIRouter(include_in_schema=False)
AHEAD = timedelta(days=14)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _view(request: Request, principal: Principal, *, error: str | None = None) -> dict[str, Any]:
    runtime = _runtime(request)
    config = runtime.config
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        current = service.who_is_on_call(session, config=config, at=now)
        layers = service.final_shifts(session, config=config, start=now, end=now + AHEAD)
        overrides = service.list_overrides(session, now=now)
    names = {p.id: p.name for p in config.people}
    schedules = []
    for schedule in config.oncall.schedules:
        zone = service.zone_of(config, schedule)
        schedules.append(
            {
                "name": schedule.name,
                "description": schedule.description,
                "zone": zone,
                "layers": schedule.layers.defined(),
                "current": [s for s in current if s.schedule == schedule.name],
                "coming": [layer for layer in layers if layer.schedule == schedule.name],
                "overrides": [o for o in overrides if o.schedule == schedule.name],
            }
        )
    return {
        "schedules": schedules,
        "names": names,
        "people": config.people,
        "policies": config.oncall.policies,
        "can_edit": principal.allows("responder"),
        "error": error,
        "now": now,
    }


def _page(
    request: Request, principal: Principal, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    add_template_dir(TEMPLATE_DIR)
    return render(
        request, "oncall/oncall.html", status_code=status_code, **_view(request, principal, **extra)
    )


@router.get("/oncall")
async def oncall_page(request: Request) -> HTMLResponse:
    principal = await page_principal(request)
    return _page(request, principal)


async def _editor(request: Request) -> tuple[Principal, Any] | Response:
    principal = await page_principal(request)
    form = await request.form()
    if principal.kind == "session" and not auth.csrf_matches(
        principal.csrf_token, str(form.get("csrf_token") or "")
    ):
        return Response("missing or wrong CSRF token", status_code=403)
    if not principal.allows("responder"):
        return Response(
            f"this needs the responder role; you have {principal.role}", status_code=403
        )
    return principal, form


def _local_time(text: str, zone: Any) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OncallError(f"{text!r} is not a date and time") from None
    return wall_to_instant(value, zone) if value.tzinfo is None else value


@router.post("/oncall/overrides")
async def add_override(request: Request) -> Response:
    # The form is read after the login check, so an anonymous post is sent to log in.
    checked = await _editor(request)
    if isinstance(checked, Response):
        return checked
    principal, form = checked
    schedule, person, start, end, layer, reason = (
        str(form.get(name) or default)
        for name, default in (
            ("schedule", ""),
            ("person", ""),
            ("start", ""),
            ("end", ""),
            ("layer", "primary"),
            ("reason", ""),
        )
    )
    runtime = _runtime(request)
    try:
        found = service.get_schedule(runtime.config, schedule)
        zone = service.zone_of(runtime.config, found)
        with runtime.db.session() as session, session.begin():
            service.add_override(
                session,
                config=runtime.config,
                schedule=schedule,
                layer=layer,
                person=person,
                start=_local_time(start, zone),
                end=_local_time(end, zone),
                reason=reason,
                by=principal.actor,
                now=runtime.clock.now(),
            )
    except OncallError as exc:
        return _page(request, principal, status_code=422, error=str(exc))
    return RedirectResponse("/oncall", status_code=303)


@router.post("/oncall/overrides/{override_id}/remove")
async def remove_override(request: Request, override_id: int) -> Response:
    checked = await _editor(request)
    if isinstance(checked, Response):
        return checked
    principal, _form = checked
    runtime = _runtime(request)
    try:
        with runtime.db.session() as session, session.begin():
            service.remove_override(
                session, override_id=override_id, by=principal.actor, now=runtime.clock.now()
            )
    except OncallError as exc:
        return _page(request, principal, status_code=404, error=str(exc))
    return RedirectResponse("/oncall", status_code=303)


def dashboard_now(session: Session, config: OpsbookConfig, now: datetime) -> dict[str, Any]:
    """The dashboard's "who is on call now" panel (``app.state.oncall_now``)."""
    names = {p.id: p.name for p in config.people}
    shifts = service.who_is_on_call(session, config=config, at=now)
    zones = {s.name: service.zone_of(config, s) for s in config.oncall.schedules}
    return {
        "configured": bool(config.oncall.schedules),
        "shifts": [
            {
                "schedule": shift.schedule,
                "layer": shift.layer,
                "person": names.get(shift.person, shift.person) if shift.person else None,
                "until": shift.end.astimezone(zones[shift.schedule]),
            }
            for shift in shifts
        ],
    }
