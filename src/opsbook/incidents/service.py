"""The incident operations that API, CLI, web, jobs and the alerts domain call.

Keyword-only functions; the session is passed in and the caller owns the transaction.
Functions return the ORM rows they act on (``Incident``, or the timeline entry or link
they created); the session factories keep rows readable after commit.  The lifecycle
operations live in :mod:`opsbook.incidents.lifecycle` (merges in
:mod:`opsbook.incidents.merging`) and are re-exported here.

Versioning: status, severity, roles, impact and merges bump ``Incident.version`` and
take ``expected_version``; notes, outputs, checklist ticks and alert links are appends
that cannot conflict, so they do not.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.incidents.errors import IncidentError, IncidentNotFound
from opsbook.incidents.lifecycle import (
    acknowledge,
    change_severity,
    load,
    open_incident,
    require_not_closed,
    resolve,
    save,
    set_status,
)
from opsbook.incidents.merging import merge
from opsbook.incidents.models import (
    Incident,
    IncidentAlert,
    IncidentChecklistItem,
    IncidentEvent,
    IncidentRole,
)
from opsbook.incidents.state import OPEN_STATUSES
from opsbook.incidents.timeline import append_event, check_correction, cut_output, events

ROLES: Final[tuple[str, ...]] = ("commander", "communications", "scribe", "responder")
# One person at a time holds these; any number of responders.
SINGLE_HOLDER_ROLES: Final[frozenset[str]] = frozenset({"commander", "communications", "scribe"})

__all__ = [
    "ROLES",
    "ChecklistTick",
    "acknowledge",
    "add_note",
    "alerts",
    "assign_role",
    "attach_alert",
    "attach_output",
    "change_severity",
    "checklist",
    "get_incident",
    "incident_for_alert",
    "list_incidents",
    "merge",
    "open_incident",
    "remove_role",
    "resolve",
    "roles",
    "set_impact",
    "set_status",
    "tick_checklist",
    "timeline",
]


def get_incident(
    session: Session, *, incident_id: int | None = None, number: int | None = None
) -> Incident:
    """One incident by id or by its human number (``#42``)."""
    if (incident_id is None) == (number is None):
        raise ValueError("give exactly one of incident_id or number")
    if incident_id is not None:
        return load(session, incident_id)
    incident = session.scalar(select(Incident).where(Incident.number == number))
    if incident is None:
        raise IncidentNotFound(f"no incident #{number}")
    return incident


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    open_only: bool = False,
    limit: int = 100,
) -> list[Incident]:
    """Newest first."""
    stmt = select(Incident).order_by(Incident.number.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Incident.status == status)
    if severity is not None:
        stmt = stmt.where(Incident.severity == severity)
    if service is not None:
        stmt = stmt.where(Incident.service == service)
    if open_only:
        stmt = stmt.where(Incident.status.in_(sorted(OPEN_STATUSES)))
    return list(session.scalars(stmt))


def timeline(
    session: Session, *, incident_id: int, kinds: Collection[str] | None = None
) -> list[IncidentEvent]:
    """The incident's entries in the order they were written."""
    load(session, incident_id)
    return events(session, incident_id=incident_id, kinds=kinds)


def roles(session: Session, *, incident_id: int) -> list[IncidentRole]:
    stmt = select(IncidentRole).where(IncidentRole.incident_id == incident_id)
    return list(session.scalars(stmt.order_by(IncidentRole.id)))


def assign_role(
    session: Session,
    *,
    incident_id: int,
    role: str,
    person: str,
    by: str,
    now: datetime,
    expected_version: int | None = None,
) -> Incident:
    """Give ``person`` the role; a commander, communications lead or scribe is replaced."""
    if role not in ROLES:
        raise IncidentError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    incident = load(session, incident_id, expected_version=expected_version)
    require_not_closed(incident, "assign a role")
    held = [r for r in roles(session, incident_id=incident_id) if r.role == role]
    if any(r.person == person for r in held):
        return incident
    if role in SINGLE_HOLDER_ROLES:
        for previous in held:
            _drop_role(session, incident, previous, by=by, now=now, reason=f"replaced by {person}")
    session.add(
        IncidentRole(
            incident_id=incident.id, role=role, person=person, assigned_at=now, assigned_by=by
        )
    )
    session.flush()  # before save(): the incident's UPDATE stays the version check
    append_event(
        session,
        incident=incident,
        kind="role_assigned",
        actor=by,
        at=now,
        body=f"{person} is {role}",
        data={"role": role, "person": person},
    )
    save(session, incident, now=now)
    return incident


def remove_role(
    session: Session,
    *,
    incident_id: int,
    role: str,
    person: str,
    by: str,
    now: datetime,
    expected_version: int | None = None,
) -> Incident:
    incident = load(session, incident_id, expected_version=expected_version)
    require_not_closed(incident, "remove a role")
    held = next(
        (
            r
            for r in roles(session, incident_id=incident_id)
            if (r.role, r.person) == (role, person)
        ),
        None,
    )
    if held is None:
        raise IncidentError(f"{person} is not {role} of incident #{incident.number}")
    _drop_role(session, incident, held, by=by, now=now, reason="")
    save(session, incident, now=now)
    return incident


def _drop_role(
    session: Session, incident: Incident, held: IncidentRole, *, by: str, now: datetime, reason: str
) -> None:
    session.delete(held)
    append_event(
        session,
        incident=incident,
        kind="role_removed",
        actor=by,
        at=now,
        body=f"{held.person} is no longer {held.role}" + (f" ({reason})" if reason else ""),
        data={"role": held.role, "person": held.person, "reason": reason},
    )
    session.flush()  # the delete must reach the database before a replacement's insert


def add_note(
    session: Session,
    *,
    incident_id: int,
    markdown: str,
    by: str,
    now: datetime,
    corrects: int | None = None,
) -> IncidentEvent:
    """Add a markdown note; ``corrects`` names an earlier entry this one corrects."""
    incident = load(session, incident_id)
    if not markdown.strip():
        raise IncidentError("a note cannot be empty")
    if corrects is not None:
        check_correction(session, incident_id=incident_id, corrects=corrects)
    entry = append_event(
        session,
        incident=incident,
        kind="note",
        actor=by,
        at=now,
        body=markdown,
        data={"format": "markdown", "corrects": corrects},
    )
    session.flush()  # the caller needs the entry's id, e.g. to correct it later
    return entry


def attach_output(
    session: Session, *, incident_id: int, text: str, label: str, by: str, now: datetime
) -> IncidentEvent:
    """Attach command or check output (shown verbatim, never rendered as markdown)."""
    incident = load(session, incident_id)
    body, was_cut = cut_output(text)
    entry = append_event(
        session,
        incident=incident,
        kind="output_attached",
        actor=by,
        at=now,
        body=body,
        data={"format": "text", "label": label, "cut": was_cut, "chars": len(text)},
    )
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChecklistTick:
    """What ticking did: ``changed`` is False when the item was already done."""

    position: int
    item: str
    done_at: datetime
    done_by: str
    changed: bool
    message: str


def checklist(session: Session, *, incident_id: int) -> list[IncidentChecklistItem]:
    stmt = select(IncidentChecklistItem).where(IncidentChecklistItem.incident_id == incident_id)
    return list(session.scalars(stmt.order_by(IncidentChecklistItem.position)))


def tick_checklist(
    session: Session, *, incident_id: int, item: int | str, by: str, now: datetime
) -> ChecklistTick:
    """Tick an item by position (1-based) or by its text (case-insensitive)."""
    incident = load(session, incident_id)
    items = checklist(session, incident_id=incident_id)
    wanted = item.strip().casefold() if isinstance(item, str) else None
    found = next(
        (
            row
            for row in items
            if (row.position == item if wanted is None else row.item.casefold() == wanted)
        ),
        None,
    )
    if found is None:
        names = "; ".join(f"{row.position}. {row.item}" for row in items) or "none"
        raise IncidentError(f"no checklist item {item!r} in incident #{incident.number} ({names})")
    if found.done_at is not None and found.done_by is not None:
        return ChecklistTick(
            found.position,
            found.item,
            found.done_at,
            found.done_by,
            changed=False,
            message=f'"{found.item}" was already ticked by {found.done_by}; nothing changed',
        )
    found.done_at, found.done_by = now, by
    append_event(
        session,
        incident=incident,
        kind="checklist_ticked",
        actor=by,
        at=now,
        body=found.item,
        data={"position": found.position, "item": found.item},
    )
    return ChecklistTick(found.position, found.item, now, by, changed=True, message="ticked")


def set_impact(
    session: Session,
    *,
    incident_id: int,
    by: str,
    now: datetime,
    components: Sequence[str] | None = None,
    users_affected: int | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Replace the affected components and/or the users-affected estimate (None: keep)."""
    if users_affected is not None and users_affected < 0:
        raise IncidentError("users_affected cannot be negative")
    incident = load(session, incident_id, expected_version=expected_version)
    require_not_closed(incident, "change the impact")
    before = {"components": list(incident.components), "users_affected": incident.users_affected}
    if components is not None:
        incident.components = list(dict.fromkeys(components))
    if users_affected is not None:
        incident.users_affected = users_affected
    after = {"components": list(incident.components), "users_affected": incident.users_affected}
    if after == before:
        return incident
    append_event(
        session,
        incident=incident,
        kind="impact_changed",
        actor=by,
        at=now,
        data={"from": before, "to": after},
    )
    save(session, incident, now=now)
    return incident


def attach_alert(
    session: Session, *, incident_id: int, key: str, source: str, now: datetime, by: str = "alerts"
) -> IncidentAlert:
    """Link an alert (its dedup key) to the incident; a key already linked changes nothing.

    This, :func:`open_incident`, :func:`acknowledge` and :func:`resolve` are the
    interface the alerts domain uses (see docs/incidents.md).
    """
    if not key or len(key) > 255:
        raise IncidentError("an alert key needs 1 to 255 characters")
    incident = load(session, incident_id)
    existing = session.scalar(
        select(IncidentAlert).where(
            IncidentAlert.incident_id == incident_id, IncidentAlert.alert_key == key
        )
    )
    if existing is not None:
        return existing
    link = IncidentAlert(incident_id=incident_id, alert_key=key, source=source, attached_at=now)
    session.add(link)
    session.flush()  # sessions do not autoflush: a repeat in this transaction must see it
    append_event(
        session,
        incident=incident,
        kind="alert_attached",
        actor=by,
        at=now,
        body=f"alert {key} from {source}",
        data={"alert_key": key, "source": source},
    )
    return link


def alerts(session: Session, *, incident_id: int) -> list[IncidentAlert]:
    stmt = select(IncidentAlert).where(IncidentAlert.incident_id == incident_id)
    return list(session.scalars(stmt.order_by(IncidentAlert.id)))


def incident_for_alert(session: Session, *, key: str, open_only: bool = True) -> Incident | None:
    """The newest incident the alert key is linked to: where a repeat alert event belongs."""
    stmt = (
        select(Incident)
        .join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
        .where(IncidentAlert.alert_key == key)
        .order_by(Incident.number.desc())
        .limit(1)
    )
    if open_only:
        stmt = stmt.where(Incident.status.in_(sorted(OPEN_STATUSES)))
    return session.scalar(stmt)
