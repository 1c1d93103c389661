"""Merging a duplicate incident into the one people keep working on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.incidents import targets
from opsbook.incidents.errors import IncidentError
from opsbook.incidents.lifecycle import load, require_not_closed, save
from opsbook.incidents.models import Incident, IncidentAlert
from opsbook.incidents.timeline import append_event


def merge(
    session: Session,
    *,
    source_id: int,
    into_id: int,
    by: str,
    now: datetime,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Merge ``source_id`` into ``into_id``: its alerts move, it closes, both timelines say so.

    A merge closes the source whatever its status: it is a duplicate, not a resolution,
    so this is the one way to ``closed`` that bypasses the transition table.
    ``expected_version`` guards the source.  Returns the incident merged into.
    """
    if source_id == into_id:
        raise IncidentError("an incident cannot be merged into itself")
    source = load(session, source_id, expected_version=expected_version)
    into = load(session, into_id)
    require_not_closed(source, "merge it")
    require_not_closed(into, f"merge into #{into.number}")
    into_keys = set(
        session.scalars(select(IncidentAlert.alert_key).where(IncidentAlert.incident_id == into.id))
    )
    moved: list[str] = []
    for link in session.scalars(
        select(IncidentAlert).where(IncidentAlert.incident_id == source.id)
    ):
        if link.alert_key in into_keys:
            session.delete(link)  # already linked to the target: one link is enough
        else:
            link.incident_id = into.id
        moved.append(link.alert_key)
    previous = source.status
    source.status = "closed"
    source.closed_at = now
    source.merged_into_id = into.id
    targets.cancel_respond_within(session, incident=source, now=now)
    targets.cancel_escalation(session, incident=source, now=now)
    targets.cancel_scoped_jobs(session, incident=source, now=now)
    append_event(
        session,
        incident=source,
        kind="status_changed",
        actor=by,
        at=now,
        body=reason,
        data={"from": previous, "to": "closed", "reason": f"merged into #{into.number}"},
    )
    append_event(
        session,
        incident=source,
        kind="merged",
        actor=by,
        at=now,
        body=f"Merged into #{into.number}. {reason}".strip(),
        data={"direction": "into", "into_id": into.id, "into_number": into.number, "alerts": moved},
    )
    append_event(
        session,
        incident=into,
        kind="merged",
        actor=by,
        at=now,
        body=f"#{source.number} merged into this incident. {reason}".strip(),
        data={
            "direction": "from",
            "source_id": source.id,
            "source_number": source.number,
            "alerts": moved,
        },
    )
    save(session, source, now=now)
    save(session, into, now=now)
    return into
