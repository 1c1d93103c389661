"""The postmortem's due-date clock, started by the resolution it follows.

Resolving an incident schedules one durable job, ``incidents.postmortem_due``, keyed by
the incident and the instant it was resolved: ``incident:{id}:postmortem_due:{stamp}``.
The resolution cannot know the due time (``postmortems.due_after`` is configuration,
and the alerts domain resolves without it), so the job is due at once; its handler reads
the live policy and, before the due time, puts itself back in the queue until then
(:class:`~opsbook.core.jobs.RetryLater`).  A reopen or the postmortem's publication
cancels it.  Imported by the lifecycle, so it depends on nothing but the jobs table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from opsbook.core import jobs
from opsbook.incidents.models import Incident

DUE_KIND = "incidents.postmortem_due"


def due_key(incident_id: int, resolved_at: datetime) -> str:
    return f"incident:{incident_id}:postmortem_due:{resolved_at:%Y%m%dT%H%M%S%fZ}"


def start(session: Session, *, incident: Incident, now: datetime) -> None:
    """Start the clock for the resolution at ``incident.resolved_at``."""
    if incident.resolved_at is None:
        return
    jobs.schedule(
        session,
        kind=DUE_KIND,
        key=due_key(incident.id, incident.resolved_at),
        run_at=now,
        now=now,
        payload={"incident_id": incident.id, "resolved_at": incident.resolved_at.isoformat()},
    )


def stop(session: Session, *, incident: Incident, now: datetime) -> None:
    """Stop the clock of the current resolution (a reopen, or the postmortem is published)."""
    if incident.resolved_at is not None:
        jobs.cancel(session, key=due_key(incident.id, incident.resolved_at), now=now)
