"""HTTP endpoints of on-call: ``/api/v1/oncall``.

- ``GET /now``, ``GET /shifts``, ``GET /schedules``, ``GET /policies``, ``GET /overrides``,
  ``GET /escalations/{number}``, ``GET /feeds``: viewer.
- ``POST /overrides``, ``DELETE /overrides/{id}``, ``POST /escalations/{number}/ack``:
  responder.
- ``GET /{schedule}.ics`` and ``GET /people/{person}.ics``: a feed token in ``?token=``
  (calendar apps cannot send headers) or a viewer bearer token.

Errors: 404 for an unknown schedule, person, override or incident; 422 for a malformed
request or a refused override (the message says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from opsbook import incidents
from opsbook.core.auth import Principal
from opsbook.core.security import current_principal, require, viewer
from opsbook.incidents.errors import IncidentNotFound
from opsbook.oncall import escalation, ical, service
from opsbook.oncall.links import feed_token, feed_token_matches
from opsbook.oncall.schemas import (
    EscalationOut,
    FeedOut,
    LayerShiftsOut,
    OverrideIn,
    OverrideOut,
    PolicyOut,
    ShiftOut,
    layer_out,
    policy_out,
    shift_out,
)
from opsbook.oncall.service import OncallError

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"])
_responder = require("responder")
FEED_BEHIND = timedelta(days=7)
FEED_AHEAD = timedelta(days=90)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(422, f"{name} needs a time zone offset, e.g. 2026-01-05T09:00:00Z")
    return value


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except OncallError as exc:
        status = 404 if str(exc).startswith("no ") else 422
        raise HTTPException(status, str(exc)) from None
    except IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/now", response_model=list[ShiftOut], dependencies=[viewer])
def now(
    request: Request, at: datetime | None = None, schedule: str | None = None
) -> list[ShiftOut]:
    """Who is on call at ``at`` (default now): one shift per layer of each schedule."""
    runtime = _runtime(request)
    instant = aware(at, "at") or runtime.clock.now()
    with _refusals(), runtime.db.read_session() as session:
        shifts = service.who_is_on_call(
            session, config=runtime.config, at=instant, schedule=schedule
        )
    return [shift_out(s, runtime.config) for s in shifts]


@router.get("/shifts", response_model=list[LayerShiftsOut], dependencies=[viewer])
def shifts(
    request: Request,
    start: datetime | None = Query(None, alias="from", description="Default: now"),
    end: datetime | None = Query(None, alias="to", description="Default: 14 days after from"),
    schedule: str | None = None,
) -> list[LayerShiftsOut]:
    """The final shifts (rotations, restrictions, overrides), gaps included, and coverage."""
    runtime = _runtime(request)
    begin = aware(start, "from") or runtime.clock.now()
    finish = aware(end, "to") or begin + timedelta(days=14)
    with _refusals(), runtime.db.read_session() as session:
        found = service.final_shifts(
            session, config=runtime.config, start=begin, end=finish, schedule=schedule
        )
    return [layer_out(layer, runtime.config) for layer in found]


@router.get("/schedules", dependencies=[viewer])
def schedules(request: Request) -> list[dict[str, object]]:
    """The configured schedules: zone, layers and rotations."""
    config = _runtime(request).config
    return [
        {
            "name": s.name,
            "timezone": service.zone_of(config, s).key,
            "description": s.description,
            "layers": s.layers.model_dump(mode="json", by_alias=True, exclude_defaults=False),
        }
        for s in config.oncall.schedules
    ]


@router.get("/policies", response_model=list[PolicyOut], dependencies=[viewer])
def policies(request: Request) -> list[PolicyOut]:
    return [policy_out(p) for p in _runtime(request).config.oncall.policies]


@router.get("/overrides", response_model=list[OverrideOut], dependencies=[viewer])
def list_overrides(
    request: Request, schedule: str | None = None, past: bool = False
) -> list[OverrideOut]:
    """Live overrides, soonest first (``past=true`` includes ended ones)."""
    runtime = _runtime(request)
    with runtime.db.read_session() as session:
        rows = service.list_overrides(
            session, now=runtime.clock.now(), schedule=schedule, include_past=past
        )
        return [OverrideOut.model_validate(row) for row in rows]


@router.post("/overrides", response_model=OverrideOut, status_code=201)
def add_override(
    request: Request, body: OverrideIn, principal: Principal = Depends(_responder)
) -> OverrideOut:
    """Let ``person`` take ``layer`` of ``schedule`` from ``start`` to ``end``."""
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        override = service.add_override(
            session,
            config=runtime.config,
            schedule=body.schedule,
            layer=body.layer,
            person=body.person,
            start=body.start,
            end=body.end,
            reason=body.reason,
            by=principal.actor,
            now=runtime.clock.now(),
        )
        return OverrideOut.model_validate(override)


@router.delete("/overrides/{override_id}", response_model=OverrideOut)
def remove_override(
    request: Request, override_id: int, principal: Principal = Depends(_responder)
) -> OverrideOut:
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        override = service.remove_override(
            session, override_id=override_id, by=principal.actor, now=runtime.clock.now()
        )
        return OverrideOut.model_validate(override)


@router.get("/escalations/{number}", response_model=EscalationOut, dependencies=[viewer])
def get_escalation(request: Request, number: int) -> EscalationOut:
    """The paging escalation of incident ``number``: its policy snapshot and progress."""
    with _refusals(), _runtime(request).db.read_session() as session:
        incident = incidents.get_incident(session, number=number)
        found = escalation.escalation_of(session, incident.id)
        if found is None:
            raise HTTPException(404, f"incident #{number} has no paging escalation")
        return EscalationOut.model_validate(found)


@router.post("/escalations/{number}/ack", response_model=EscalationOut)
def acknowledge(
    request: Request, number: int, principal: Principal = Depends(_responder)
) -> EscalationOut:
    """Acknowledge the page: the incident (if triggered) and a re-triggered escalation."""
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        incident = incidents.get_incident(session, number=number)
        found = escalation.acknowledge_page(
            session, incident_id=incident.id, by=principal.actor, now=runtime.clock.now()
        )
        if found is None:
            raise HTTPException(404, f"incident #{number} has no paging escalation")
        return EscalationOut.model_validate(found)


def feed_url(runtime: Runtime, scope: Literal["schedule", "person"], name: str) -> str:
    path = f"{name}.ics" if scope == "schedule" else f"people/{name}.ics"
    token = feed_token(runtime.secret_key(), scope=scope, name=name)
    return f"{runtime.public_base_url().rstrip('/')}/api/v1/oncall/{path}?token={token}"


@router.get("/feeds", response_model=list[FeedOut], dependencies=[viewer])
def feeds(request: Request) -> list[FeedOut]:
    """Calendar subscription URLs (with their feed tokens) for every schedule and person."""
    runtime = _runtime(request)
    config = runtime.config
    found = [
        FeedOut(scope="schedule", name=s.name, url=feed_url(runtime, "schedule", s.name))
        for s in config.oncall.schedules
    ]
    found += [
        FeedOut(scope="person", name=p.id, url=feed_url(runtime, "person", p.id))
        for p in config.people
    ]
    return found


def _feed_now(runtime: Runtime) -> datetime:
    # Calendars count in whole seconds; a window on whole minutes keeps shifts exact.
    return runtime.clock.now().replace(second=0, microsecond=0)


def _feed_allowed(
    request: Request, scope: Literal["schedule", "person"], name: str, token: str | None
) -> None:
    runtime = _runtime(request)
    if token is not None:
        if feed_token_matches(runtime.secret_key(), scope=scope, name=name, given=token):
            return
        raise HTTPException(403, "wrong feed token")
    principal = current_principal(request)
    if principal is None:
        raise HTTPException(401, "a feed token (?token=) or a bearer token is required")
    if not principal.allows("viewer"):
        raise HTTPException(403, "this needs the viewer role")


@router.get("/people/{person}.ics", response_class=Response)
def person_feed(request: Request, person: str, token: str | None = None) -> Response:
    """The shifts of one person across all schedules, from 7 days ago to 90 days ahead."""
    _feed_allowed(request, "person", person, token)
    runtime = _runtime(request)
    now_ = _feed_now(runtime)
    with _refusals(), runtime.db.read_session() as session:
        found = service.person_shifts(
            session,
            config=runtime.config,
            person=person,
            start=now_ - FEED_BEHIND,
            end=now_ + FEED_AHEAD,
        )
    who = runtime.config.find_person(person)
    body = ical.calendar(
        found,
        name=f"On call: {who.name if who else person}",
        now=now_,
        people={p.id: p.name for p in runtime.config.people},
    )
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get("/{schedule}.ics", response_class=Response)
def schedule_feed(request: Request, schedule: str, token: str | None = None) -> Response:
    """Every layer's shifts of one schedule, from 7 days ago to 90 days ahead."""
    _feed_allowed(request, "schedule", schedule, token)
    runtime = _runtime(request)
    now_ = _feed_now(runtime)
    with _refusals(), runtime.db.read_session() as session:
        layers = service.final_shifts(
            session,
            config=runtime.config,
            start=now_ - FEED_BEHIND,
            end=now_ + FEED_AHEAD,
            schedule=schedule,
        )
    body = ical.calendar(
        [shift for layer in layers for shift in layer.shifts],
        name=f"On call: {schedule}",
        now=now_,
        people={p.id: p.name for p in runtime.config.people},
    )
    return Response(body, media_type="text/calendar; charset=utf-8")
