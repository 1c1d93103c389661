"""Public incidents and their updates, component overrides and scheduled maintenances.

Keyword-only functions; the session is passed in and the caller owns the transaction.
Every change bumps the snapshot generation in the same transaction (so every process
rebuilds or reloads the public page soon after), and a published update with
``notify`` books the job that tells subscribers (:mod:`opsbook.status.subscribers`).

Public text is written for customers.  Nothing here reads the internal timeline; what
is posted is masked for anything shaped like a credential, like the timeline is.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsbook.config import OpsbookConfig
from opsbook.core import jobs
from opsbook.incidents.models import Incident
from opsbook.incidents.timeline import redact_incident_text
from opsbook.status.components import IMPACT_OF, IMPACTS, catalogue, resolve_component, worst
from opsbook.status.config import COMPONENT_STATUSES, PUBLIC_STATUSES
from opsbook.status.models import (
    ComponentOverride,
    Maintenance,
    MaintenanceUpdate,
    StatusIncident,
    StatusIncidentUpdate,
    StatusSnapshot,
)
from opsbook.status.wording import message_for, title_for

NOTIFY_KIND = "status.notify_subscribers"
MAX_NAME = 300
MAX_BODY = 10_000
OPEN_PUBLIC: Final = frozenset({"investigating", "identified", "monitoring"})
# current public status -> the statuses an update may move it to (the same one: another
# update without a change of state).
TRANSITIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "investigating": ("investigating", "identified", "monitoring", "resolved"),
    "identified": ("investigating", "identified", "monitoring", "resolved"),
    "monitoring": ("investigating", "identified", "monitoring", "resolved"),
    "resolved": ("investigating", "postmortem"),
    "postmortem": (),
}


class StatusError(ValueError):
    """A request the status page's state or the input does not allow (4xx / exit 2)."""


class StatusNotFound(LookupError):
    pass


def new_code() -> str:
    """A 12-character public id, like Statuspage's."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def bump_generation(session: Session) -> None:
    """Mark the public documents stale, in the caller's transaction."""
    result = session.execute(
        update(StatusSnapshot)
        .where(StatusSnapshot.id == 1)
        .values(generation=StatusSnapshot.generation + 1)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.add(StatusSnapshot(id=1, generation=1, version=0, fingerprint=""))
        session.flush()


def parse_component_statuses(
    config: OpsbookConfig, given: Mapping[str, str] | Sequence[str]
) -> dict[str, str]:
    """``{"api": "partial_outage"}`` or ``["api=partial_outage", "Checkout"]`` to ids.

    A component named without a status is taken as ``partial_outage``, the usual first
    guess; every status must be one of Statuspage's.
    """
    pairs: list[tuple[str, str]]
    if isinstance(given, Mapping):
        pairs = [(str(k), str(v)) for k, v in given.items()]
    else:
        pairs = []
        for item in given:
            ref, _, status = item.partition("=")
            pairs.append((ref, status or "partial_outage"))
    components = catalogue(config)
    out: dict[str, str] = {}
    for ref, status in pairs:
        try:
            component = resolve_component(components, ref)
        except ValueError as exc:
            raise StatusError(str(exc)) from None
        if status not in COMPONENT_STATUSES:
            raise StatusError(
                f"unknown component status {status!r}; expected one of "
                + ", ".join(COMPONENT_STATUSES)
            )
        out[component.id] = status
    return out


def _clean_body(body: str) -> str:
    body = redact_incident_text(body.strip())
    if not body:
        raise StatusError("a public update needs a message")
    if len(body) > MAX_BODY:
        raise StatusError(f"a public update may have at most {MAX_BODY} characters")
    return body


def _clean_name(name: str) -> str:
    name = redact_incident_text(" ".join(name.split()))
    if not name or len(name) > MAX_NAME:
        raise StatusError(f"a public incident's name needs 1 to {MAX_NAME} characters")
    return name


def _impact(statuses: Mapping[str, str], given: str | None) -> str:
    if given is not None:
        if given not in IMPACTS:
            raise StatusError(f"unknown impact {given!r}; expected one of {', '.join(IMPACTS)}")
        return given
    return IMPACT_OF[worst(statuses.values())] if statuses else "minor"


def get_public_incident(session: Session, *, code: str) -> StatusIncident:
    found = session.scalar(select(StatusIncident).where(StatusIncident.code == code))
    if found is None:
        raise StatusNotFound(f"no public incident {code!r}")
    return found


def open_public_incident(
    session: Session,
    *,
    name: str,
    status: str,
    body: str,
    component_statuses: Mapping[str, str],
    by: str,
    now: datetime,
    incident_id: int | None = None,
    publish: bool = True,
    impact: str | None = None,
    notify: bool = True,
) -> StatusIncident:
    """Create a public incident with its first update; ``publish=False`` keeps it a draft."""
    if status not in OPEN_PUBLIC:
        raise StatusError(
            f"a public incident opens as investigating, identified or monitoring, not {status!r}"
        )
    incident = StatusIncident(
        code=new_code(),
        incident_id=incident_id,
        name=_clean_name(name),
        status=status,
        impact=_impact(component_statuses, impact),
        components=list(component_statuses),
        created_by=by,
        created_at=now,
        updated_at=now,
        published_at=now if publish else None,
        monitoring_at=now if status == "monitoring" else None,
    )
    session.add(incident)
    session.flush()
    _add_update(
        session,
        incident,
        status=status,
        body=_clean_body(body),
        component_statuses=component_statuses,
        by=by,
        now=now,
        notify=notify,
    )
    return incident


def _add_update(
    session: Session,
    incident: StatusIncident,
    *,
    status: str,
    body: str,
    component_statuses: Mapping[str, str],
    by: str,
    now: datetime,
    notify: bool,
) -> StatusIncidentUpdate:
    entry = StatusIncidentUpdate(
        code=new_code(),
        status_incident_id=incident.id,
        status=status,
        body=body,
        component_statuses=dict(component_statuses),
        created_by=by,
        created_at=now,
        notify=notify,
    )
    session.add(entry)
    session.flush()
    if incident.published_at is not None and notify:
        schedule_notification(session, update_id=entry.id, now=now)
    bump_generation(session)
    return entry


def schedule_notification(session: Session, *, update_id: int, now: datetime) -> None:
    jobs.schedule(
        session,
        kind=NOTIFY_KIND,
        key=f"status:notify:{update_id}",
        run_at=now,
        now=now,
        payload={"update_id": update_id},
    )


def post_update(
    session: Session,
    *,
    code: str,
    status: str,
    body: str,
    by: str,
    now: datetime,
    component_statuses: Mapping[str, str] | None = None,
    notify: bool = True,
) -> StatusIncidentUpdate:
    """Add an update; the states follow :data:`TRANSITIONS`.

    ``component_statuses`` None keeps the previous update's; resolving sets every
    affected component back to ``operational`` unless told otherwise.
    """
    incident = get_public_incident(session, code=code)
    if status not in PUBLIC_STATUSES:
        raise StatusError(
            f"unknown public status {status!r}; expected one of {', '.join(PUBLIC_STATUSES)}"
        )
    if status not in TRANSITIONS[incident.status]:
        allowed = ", ".join(TRANSITIONS[incident.status]) or f"none, {incident.status} is final"
        raise StatusError(
            f"a public incident cannot go from {incident.status} to {status} (allowed: {allowed})"
        )
    previous = latest_update(session, incident_id=incident.id)
    statuses = dict(previous.component_statuses if previous else {})
    if component_statuses is not None:
        statuses.update(component_statuses)
    elif status in ("resolved", "postmortem"):
        statuses = {component: "operational" for component in statuses}
    incident.status = status
    incident.updated_at = now
    incident.components = list(dict.fromkeys([*incident.components, *statuses]))
    if status == "monitoring" and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status == "resolved":
        incident.resolved_at = now
    if status == "investigating":
        incident.resolved_at = None
    if component_statuses and status in OPEN_PUBLIC:
        incident.impact = _impact(statuses, None)
    return _add_update(
        session,
        incident,
        status=status,
        body=_clean_body(body),
        component_statuses=statuses,
        by=by,
        now=now,
        notify=notify,
    )


def publish(session: Session, *, code: str, by: str, now: datetime) -> StatusIncident:
    """Publish a draft: it appears on the page and its latest update goes to subscribers."""
    incident = get_public_incident(session, code=code)
    if incident.published_at is not None:
        return incident
    incident.published_at = now
    incident.updated_at = now
    latest = latest_update(session, incident_id=incident.id)
    if latest is not None and latest.notify:
        schedule_notification(session, update_id=latest.id, now=now)
    bump_generation(session)
    return incident


def latest_update(session: Session, *, incident_id: int) -> StatusIncidentUpdate | None:
    return session.scalar(
        select(StatusIncidentUpdate)
        .where(StatusIncidentUpdate.status_incident_id == incident_id)
        .order_by(StatusIncidentUpdate.id.desc())
        .limit(1)
    )


def updates_of(session: Session, *, incident_id: int) -> list[StatusIncidentUpdate]:
    """Newest first, as the page and the JSON show them."""
    stmt = select(StatusIncidentUpdate).where(
        StatusIncidentUpdate.status_incident_id == incident_id
    )
    return list(session.scalars(stmt.order_by(StatusIncidentUpdate.id.desc())))


def public_incidents(
    session: Session,
    *,
    published: bool | None = True,
    open_only: bool = False,
    incident_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[StatusIncident]:
    """Newest first."""
    stmt = (
        select(StatusIncident)
        .order_by(StatusIncident.created_at.desc(), StatusIncident.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if published is True:
        stmt = stmt.where(StatusIncident.published_at.is_not(None))
    elif published is False:
        stmt = stmt.where(StatusIncident.published_at.is_(None))
    if open_only:
        stmt = stmt.where(StatusIncident.status.in_(sorted(OPEN_PUBLIC)))
    if incident_id is not None:
        stmt = stmt.where(StatusIncident.incident_id == incident_id)
    return list(session.scalars(stmt))


def post_for_incident(
    session: Session,
    *,
    config: OpsbookConfig,
    number: int,
    status: str,
    by: str,
    now: datetime,
    body: str | None = None,
    component_statuses: Mapping[str, str] | None = None,
    name: str | None = None,
    notify: bool = True,
) -> StatusIncidentUpdate:
    """Post a public update from internal incident ``number``: what the CLI, API and form do.

    The incident's open public incident gets the update (a draft is published with it);
    without one, a public incident is opened, named from ``status_page.wording.title``.
    ``body`` None takes the configured wording for ``status``; ``component_statuses``
    None takes the incident's affected components, at ``status_page.incident_impact``
    for its severity.
    """
    incident = session.scalar(select(Incident).where(Incident.number == number))
    if incident is None:
        raise StatusNotFound(f"no incident #{number}")
    components = {c.id: c for c in catalogue(config)}
    statuses = component_statuses
    if statuses is None:
        impact = config.status_page.incident_impact[incident.severity]  # type: ignore[index]
        statuses = parse_component_statuses(config, {c: impact for c in incident.components})
    names = [components[c].name for c in statuses if c in components]
    page = config.status_page
    text = (
        body
        if body and body.strip()
        else message_for(status, config=config, page=page, component_names=names)
    )
    existing = next(
        iter(public_incidents(session, published=None, incident_id=incident.id, limit=1)), None
    )
    if existing is None or existing.status not in TRANSITIONS or not TRANSITIONS[existing.status]:
        title = name or title_for(config=config, page=page, component_names=names)
        created = open_public_incident(
            session,
            name=title,
            status=status,
            body=text,
            component_statuses=statuses,
            by=by,
            now=now,
            incident_id=incident.id,
            notify=notify,
        )
        found = latest_update(session, incident_id=created.id)
        assert found is not None
        return found
    if name:
        existing.name = _clean_name(name)
    entry = post_update(
        session,
        code=existing.code,
        status=status,
        body=text,
        by=by,
        now=now,
        component_statuses=statuses if component_statuses is not None or statuses else None,
        notify=notify,
    )
    if existing.published_at is None:
        publish(session, code=existing.code, by=by, now=now)
    return entry


# Overrides -------------------------------------------------------------------------


def set_override(
    session: Session,
    *,
    config: OpsbookConfig,
    component: str,
    status: str,
    by: str,
    now: datetime,
    reason: str = "",
    expires_at: datetime | None = None,
) -> ComponentOverride:
    """Pin a component's status by hand (highest precedence) until cleared or expired."""
    target = parse_component_statuses(config, {component: status})
    component_id = next(iter(target))
    if expires_at is not None and expires_at <= now:
        raise StatusError("an override must expire in the future")
    row = session.get(ComponentOverride, component_id)
    if row is None:
        row = ComponentOverride(component_id=component_id)
        session.add(row)
    row.status, row.reason, row.set_by, row.set_at = status, reason.strip(), by, now
    row.expires_at = expires_at
    session.flush()
    bump_generation(session)
    return row


def clear_override(session: Session, *, config: OpsbookConfig, component: str) -> bool:
    try:
        component_id = resolve_component(catalogue(config), component).id
    except ValueError as exc:
        raise StatusError(str(exc)) from None
    row = session.get(ComponentOverride, component_id)
    if row is None:
        return False
    session.delete(row)
    bump_generation(session)
    return True


def overrides(session: Session, *, now: datetime) -> dict[str, ComponentOverride]:
    rows = session.scalars(select(ComponentOverride))
    return {r.component_id: r for r in rows if r.expires_at is None or r.expires_at > now}


# Maintenances ----------------------------------------------------------------------


def maintenance_status(maintenance: Maintenance, *, now: datetime) -> str:
    """Statuspage's maintenance status, from the window and an early completion."""
    if maintenance.completed_at is not None and maintenance.completed_at <= now:
        return "completed"
    if now < maintenance.scheduled_for:
        return "scheduled"
    if now < maintenance.scheduled_until:
        return "in_progress"
    return "completed"


def schedule_maintenance(
    session: Session,
    *,
    config: OpsbookConfig,
    name: str,
    starts: datetime,
    ends: datetime,
    components: Sequence[str],
    body: str,
    by: str,
    now: datetime,
) -> Maintenance:
    if ends <= starts:
        raise StatusError("a maintenance must end after it starts")
    ids = list(parse_component_statuses(config, {c: "under_maintenance" for c in components}))
    maintenance = Maintenance(
        code=new_code(),
        name=_clean_name(name),
        scheduled_for=starts,
        scheduled_until=ends,
        components=ids,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(maintenance)
    session.flush()
    _maintenance_update(session, maintenance, status="scheduled", body=body, by=by, now=now)
    return maintenance


def _maintenance_update(
    session: Session, maintenance: Maintenance, *, status: str, body: str, by: str, now: datetime
) -> MaintenanceUpdate:
    entry = MaintenanceUpdate(
        code=new_code(),
        maintenance_id=maintenance.id,
        status=status,
        body=_clean_body(body),
        created_by=by,
        created_at=now,
    )
    session.add(entry)
    maintenance.updated_at = now
    session.flush()
    bump_generation(session)
    return entry


def get_maintenance(session: Session, *, code: str) -> Maintenance:
    found = session.scalar(select(Maintenance).where(Maintenance.code == code))
    if found is None:
        raise StatusNotFound(f"no scheduled maintenance {code!r}")
    return found


def complete_maintenance(
    session: Session, *, code: str, by: str, now: datetime, body: str = "", cancel: bool = False
) -> Maintenance:
    """End a maintenance now (or cancel one that has not started)."""
    maintenance = get_maintenance(session, code=code)
    if maintenance_status(maintenance, now=now) == "completed":
        raise StatusError(f"maintenance {code} is already over")
    maintenance.completed_at = now
    maintenance.cancelled = cancel
    default = "This maintenance was cancelled." if cancel else "The maintenance has been completed."
    _maintenance_update(
        session, maintenance, status="completed", body=body or default, by=by, now=now
    )
    return maintenance


def maintenances(session: Session, *, limit: int = 50) -> list[Maintenance]:
    """Newest start first."""
    stmt = select(Maintenance).order_by(Maintenance.scheduled_for.desc()).limit(limit)
    return list(session.scalars(stmt))


def maintenance_updates(session: Session, *, maintenance_id: int) -> list[MaintenanceUpdate]:
    stmt = select(MaintenanceUpdate).where(MaintenanceUpdate.maintenance_id == maintenance_id)
    return list(session.scalars(stmt.order_by(MaintenanceUpdate.id.desc())))


def awaiting_resolution(session: Session) -> list[tuple[StatusIncident, int]]:
    """Open public incidents whose internal incident is resolved: (incident, its number)."""
    rows = session.execute(
        select(StatusIncident, Incident.number)
        .join(Incident, Incident.id == StatusIncident.incident_id)
        .where(
            StatusIncident.status.in_(sorted(OPEN_PUBLIC)),
            Incident.status.in_(("resolved", "closed")),
        )
        .order_by(StatusIncident.id)
    )
    return [(row[0], row[1]) for row in rows]
