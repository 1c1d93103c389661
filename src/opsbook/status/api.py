"""The status page's operator API: ``/api/v1/status`` and an incident's public updates.

Reads need the viewer role; posting updates, overrides and maintenance need responder;
subscribers need admin.  The public Statuspage-compatible JSON is not here: it is
served from the snapshot (:mod:`opsbook.status.public`).  Errors: 404 unknown incident
or subscriber, 409 a state the status page refuses (a move the public states do not
allow, an unknown component), 422 malformed input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from opsbook.core.auth import Principal
from opsbook.core.security import require, viewer
from opsbook.status import service, subscribers
from opsbook.status.models import Maintenance, StatusIncident, Subscriber
from opsbook.status.schemas import (
    ComponentOut,
    MaintenanceIn,
    MaintenanceOut,
    OverrideIn,
    PublicIncidentOut,
    PublicUpdateIn,
    SubscriberOut,
    TemplatesOut,
    UpdateOut,
    WebhookSubscriberCreated,
    WebhookSubscriberIn,
)
from opsbook.status.state import read_state

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["status"])
_responder = require("responder")
_admin = require("admin")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except service.StatusNotFound as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except service.StatusError as exc:
        raise HTTPException(409, str(exc)) from None


def public_incident_out(session: Session, incident: StatusIncident) -> PublicIncidentOut:
    updates = service.updates_of(session, incident_id=incident.id)
    return PublicIncidentOut(
        id=incident.code,
        name=incident.name,
        status=incident.status,
        impact=incident.impact,
        incident_id=incident.incident_id,
        components=list(incident.components),
        published_at=incident.published_at,
        resolved_at=incident.resolved_at,
        updates=[
            UpdateOut(
                id=u.code,
                status=u.status,
                body=u.body,
                components=u.component_statuses,
                created_at=u.created_at,
                created_by=u.created_by,
            )
            for u in updates
        ],
    )


@router.post(
    "/incidents/{number}/public-updates",
    response_model=PublicIncidentOut,
    status_code=201,
    tags=["status"],
)
def post_public_update(
    request: Request,
    number: int,
    body: PublicUpdateIn,
    principal: Principal = Depends(_responder),
) -> PublicIncidentOut:
    """Post a public update from incident ``number``; its draft (if any) is published."""
    runtime = _runtime(request)
    config = runtime.config
    with _refusals(), runtime.db.session() as session, session.begin():
        statuses = (
            service.parse_component_statuses(config, body.components)
            if body.components is not None
            else None
        )
        entry = service.post_for_incident(
            session,
            config=config,
            number=number,
            status=body.status,
            body=body.message,
            component_statuses=statuses,
            name=body.name,
            notify=body.notify,
            by=principal.actor,
            now=runtime.clock.now(),
        )
        incident = session.get(StatusIncident, entry.status_incident_id)
        assert incident is not None
        return public_incident_out(session, incident)


@router.get(
    "/incidents/{number}/public-updates",
    response_model=list[PublicIncidentOut],
    dependencies=[viewer],
    tags=["status"],
)
def list_incident_public_updates(request: Request, number: int) -> list[PublicIncidentOut]:
    """The public incidents (drafts included) posted from incident ``number``."""
    from sqlalchemy import select

    from opsbook.incidents.models import Incident

    runtime = _runtime(request)
    with runtime.db.read_session() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.number == number))
        if incident_id is None:
            raise HTTPException(404, f"no incident #{number}")
        found = service.public_incidents(session, published=None, incident_id=incident_id)
        return [public_incident_out(session, i) for i in found]


@router.get("/status/incidents", response_model=list[PublicIncidentOut], dependencies=[viewer])
def list_public_incidents(request: Request, drafts: bool = False) -> list[PublicIncidentOut]:
    """Public incidents, newest first; ``drafts=true`` for those awaiting a person."""
    with _runtime(request).db.read_session() as session:
        found = service.public_incidents(session, published=False if drafts else None)
        return [public_incident_out(session, i) for i in found]


@router.post("/status/incidents/{code}/publish", response_model=PublicIncidentOut)
def publish(
    request: Request, code: str, principal: Principal = Depends(_responder)
) -> PublicIncidentOut:
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        incident = service.publish(session, code=code, by=principal.actor, now=runtime.clock.now())
        return public_incident_out(session, incident)


@router.get("/status/components", response_model=list[ComponentOut], dependencies=[viewer])
def components(request: Request) -> list[ComponentOut]:
    """Every component's status now and which source decided it (docs/status-page.md)."""
    runtime = _runtime(request)
    with runtime.db.read_session() as session:
        state = read_state(session, config=runtime.config, now=runtime.clock.now())
    return [
        ComponentOut(
            id=c.component.id,
            name=c.component.name,
            group=c.component.group,
            status=c.status,
            source=c.source,
            uptime_90d=state.uptime[c.component.id],
        )
        for c in state.components
    ]


@router.put("/status/components/{component}/override", status_code=204)
def set_override(
    request: Request, component: str, body: OverrideIn, principal: Principal = Depends(_responder)
) -> None:
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        service.set_override(
            session,
            config=runtime.config,
            component=component,
            status=body.status,
            reason=body.reason,
            expires_at=body.expires_at,
            by=principal.actor,
            now=runtime.clock.now(),
        )


@router.delete(
    "/status/components/{component}/override", status_code=204, dependencies=[Depends(_responder)]
)
def clear_override(request: Request, component: str) -> None:
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        if not service.clear_override(session, config=runtime.config, component=component):
            raise HTTPException(404, f"no override is set on {component!r}")


def _maintenance_out(row: Maintenance, now: datetime) -> MaintenanceOut:
    return MaintenanceOut(
        id=row.code,
        name=row.name,
        status=service.maintenance_status(row, now=now),
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        components=row.components,
    )


@router.post("/status/maintenances", response_model=MaintenanceOut, status_code=201)
def schedule_maintenance(
    request: Request, body: MaintenanceIn, principal: Principal = Depends(_responder)
) -> MaintenanceOut:
    runtime = _runtime(request)
    now = runtime.clock.now()
    with _refusals(), runtime.db.session() as session, session.begin():
        row = service.schedule_maintenance(
            session,
            config=runtime.config,
            name=body.name,
            starts=body.scheduled_for,
            ends=body.scheduled_until,
            components=body.components,
            body=body.message,
            by=principal.actor,
            now=now,
        )
        return _maintenance_out(row, now)


@router.post("/status/maintenances/{code}/complete", response_model=MaintenanceOut)
def complete_maintenance(
    request: Request, code: str, cancel: bool = False, principal: Principal = Depends(_responder)
) -> MaintenanceOut:
    runtime = _runtime(request)
    now = runtime.clock.now()
    with _refusals(), runtime.db.session() as session, session.begin():
        row = service.complete_maintenance(
            session, code=code, cancel=cancel, by=principal.actor, now=now
        )
        return _maintenance_out(row, now)


@router.get("/status/templates", response_model=TemplatesOut, dependencies=[viewer])
def templates(request: Request) -> TemplatesOut:
    """The configured wording of the common updates (status_page.wording)."""
    return TemplatesOut.model_validate(_runtime(request).config.status_page.wording.model_dump())


def _subscriber_out(row: Subscriber) -> SubscriberOut:
    return SubscriberOut(
        id=row.id,
        kind=row.kind,
        address=row.address,
        components=row.components,
        state=row.state,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
    )


@router.get(
    "/status/subscribers", response_model=list[SubscriberOut], dependencies=[Depends(_admin)]
)
def list_subscribers(request: Request) -> list[SubscriberOut]:
    with _runtime(request).db.read_session() as session:
        return [_subscriber_out(r) for r in subscribers.list_subscribers(session)]


@router.post(
    "/status/subscribers/webhooks",
    response_model=WebhookSubscriberCreated,
    status_code=201,
    dependencies=[Depends(_admin)],
)
def add_webhook(request: Request, body: WebhookSubscriberIn) -> WebhookSubscriberCreated:
    """Subscribe a URL; the answer carries the signing secret, shown this once."""
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        row = subscribers.add_webhook(
            session,
            config=runtime.config,
            url=body.url,
            components=body.components,
            now=runtime.clock.now(),
        )
        return WebhookSubscriberCreated(
            **_subscriber_out(row).model_dump(), secret=row.secret or ""
        )


@router.delete(
    "/status/subscribers/{subscriber_id}", status_code=204, dependencies=[Depends(_admin)]
)
def remove_subscriber(request: Request, subscriber_id: int) -> None:
    runtime = _runtime(request)
    with _refusals(), runtime.db.session() as session, session.begin():
        subscribers.remove(session, subscriber_id=subscriber_id, now=runtime.clock.now())
