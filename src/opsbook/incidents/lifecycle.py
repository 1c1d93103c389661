"""Opening an incident and moving it through its lifecycle, severity and merges.

Every function works in the caller's transaction: the incident row, its timeline
entries, its response-target jobs and its queued notifications commit together or not
at all.  Functions that change the incident's state bump ``version`` (SQLAlchemy's
version counter), so a stale ``expected_version``, or a concurrent writer, is a
:class:`~opsbook.incidents.errors.Conflict` rather than a lost update.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from opsbook.config.defaults import SEVERITIES
from opsbook.incidents import targets
from opsbook.incidents.errors import Conflict, IncidentError, IncidentNotFound
from opsbook.incidents.models import Incident, IncidentChecklistItem
from opsbook.incidents.naming import channel_base, unique_channel_name
from opsbook.incidents.postmortems import deadline as postmortem_deadline
from opsbook.incidents.state import check_transition, is_reopen
from opsbook.incidents.timeline import append_event, redact_incident_text

if TYPE_CHECKING:  # the schema imports opsbook.incidents.config: no import cycle at run time
    from opsbook.config.schema import OpsbookConfig

MAX_TITLE_LENGTH = 300
_OPEN_ATTEMPTS = 5  # concurrent opens on PostgreSQL may race for a number or channel name


def load(session: Session, incident_id: int, *, expected_version: int | None = None) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    if expected_version is not None and incident.version != expected_version:
        raise Conflict(incident_id, expected_version, incident.version)
    return incident


def save(session: Session, incident: Incident, *, now: datetime) -> None:
    """Write the incident now, so a concurrent change surfaces here as a Conflict."""
    incident.updated_at = now
    incident_id, read_version = incident.id, incident.version
    incident.version = read_version + 1
    try:
        session.flush()
    except StaleDataError:
        # The row is unusable after the failed flush; report from what was read.
        raise Conflict(incident_id, read_version, None) from None


def require_not_closed(incident: Incident, action: str) -> None:
    if incident.status == "closed":
        merged = (
            f" (merged into incident {incident.merged_into_id})" if incident.merged_into_id else ""
        )
        raise IncidentError(f"cannot {action}: incident #{incident.number} is closed{merged}")


def _check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise IncidentError(
            f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}"
        )


def open_incident(
    session: Session,
    *,
    config: OpsbookConfig,
    title: str,
    severity: str,
    by: str,
    now: datetime,
    service: str | None = None,
    summary: str = "",
    components: Sequence[str] = (),
    users_affected: int | None = None,
    source: str | None = None,
) -> Incident:
    """Open an incident: checklist, response-target jobs and notifications included.

    >>> with transaction(db.session) as session:
    ...     incident = open_incident(session, config=config, title="Checkout 5xx",
    ...                              severity="P1", by="alice", now=clock.now())
    """
    _check_severity(severity)
    title = redact_incident_text(" ".join(title.split()))
    if not title or len(title) > MAX_TITLE_LENGTH:
        raise IncidentError(f"an incident title needs 1 to {MAX_TITLE_LENGTH} characters")
    if users_affected is not None and users_affected < 0:
        raise IncidentError("users_affected cannot be negative")
    level = config.severities[severity]  # type: ignore[index]
    incident = _insert_incident(
        session,
        config=config,
        title=title,
        severity=severity,
        service=service or config.service.name,
        summary=redact_incident_text(summary),
        components=list(dict.fromkeys(components)),
        users_affected=users_affected,
        source=source,
        by=by,
        now=now,
    )
    for position, item in enumerate(level.checklist, start=1):
        session.add(IncidentChecklistItem(incident_id=incident.id, position=position, item=item))
    append_event(
        session,
        incident=incident,
        kind="created",
        actor=by,
        at=now,
        body=incident.summary,
        data={
            "title": incident.title,
            "severity": severity,
            "service": incident.service,
            "channel_name": incident.channel_name,
            "source": source,
            "components": incident.components,
            "users_affected": users_affected,
        },
    )
    targets.schedule_respond_within(session, incident=incident, level=level, now=now)
    targets.schedule_next_escalation(session, incident=incident, level=level, now=now)
    message = targets.incident_message(
        incident,
        event="incident.opened",
        title=f"[{severity}] #{incident.number} {incident.title}",
        text=incident.summary or level.meaning,
    )
    targets.fan_out(
        session,
        config=config,
        incident=incident,
        targets=level.notify,
        purpose="opened",
        message=message,
        actor=by,
        now=now,
    )
    session.flush()  # sessions do not autoflush; later calls in this transaction query these
    return incident


def _insert_incident(
    session: Session, *, config: OpsbookConfig, title: str, by: str, now: datetime, **fields: object
) -> Incident:
    base = channel_base(title, at=now, timezone=config.service.timezone)
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            with session.begin_nested():
                number = (session.scalar(select(func.max(Incident.number))) or 0) + 1
                # Slugs hold only [a-z0-9-], so the base has no LIKE wildcards in it.
                taken = set(
                    session.scalars(
                        select(Incident.channel_name).where(Incident.channel_name.like(f"{base}%"))
                    )
                )
                incident = Incident(
                    number=number,
                    title=title,
                    status="triggered",
                    channel_name=unique_channel_name(base, taken),
                    created_by=by,
                    created_at=now,
                    triggered_at=now,
                    updated_at=now,
                    escalation_level=0,
                    escalation_cycle=0,
                    escalation_since=now,
                    **fields,
                )
                session.add(incident)
                session.flush()
            return incident
        except IntegrityError:
            if attempt == _OPEN_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _transition(
    session: Session,
    *,
    config: OpsbookConfig | None,
    incident: Incident,
    to: str,
    by: str,
    now: datetime,
    reason: str,
) -> None:
    current = incident.status
    status = check_transition(current, to)
    reopen = is_reopen(current, status)
    if reopen and config is None:
        raise IncidentError("reopening an incident needs the configuration (escalation policy)")
    incident.status = status
    append_event(
        session,
        incident=incident,
        kind="status_changed",
        actor=by,
        at=now,
        body=reason,
        data={"from": current, "to": status, "reason": reason},
    )
    if current == "triggered" and status != "resolved":
        # A response: the first one sets acknowledged_at (MTTA); a later one answers a
        # re-trigger, and stops the paging it restarted just the same.
        first = incident.acknowledged_at is None
        if first:
            incident.acknowledged_at = now
            targets.cancel_respond_within(session, incident=incident, now=now)
        append_event(
            session, incident=incident, kind="acknowledged", actor=by, at=now, data={"first": first}
        )
        targets.on_response(session, incident=incident, now=now, first=first)
    if status == "mitigated" and incident.mitigated_at is None:
        incident.mitigated_at = now
    if status in ("resolved", "closed"):
        targets.cancel_respond_within(session, incident=incident, now=now)
        targets.cancel_escalation(session, incident=incident, now=now)
        targets.cancel_scoped_jobs(session, incident=incident, now=now)
    if status == "resolved":
        incident.resolved_at = now
        postmortem_deadline.start(session, incident=incident, now=now)
    if status == "closed":
        incident.closed_at = now
    if reopen and config is not None:
        # A reopened incident is escalated afresh, from the moment it came back.
        postmortem_deadline.stop(session, incident=incident, now=now)
        incident.resolved_at = None
        incident.escalation_cycle += 1
        incident.escalation_level = 0
        incident.escalation_since = now
        level = config.severities[incident.severity]  # type: ignore[index]
        targets.schedule_next_escalation(session, incident=incident, level=level, now=now)
    save(session, incident, now=now)


def set_status(
    session: Session,
    *,
    config: OpsbookConfig,
    incident_id: int,
    to: str,
    by: str,
    now: datetime,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Move the incident as the table in :mod:`opsbook.incidents.state` allows."""
    incident = load(session, incident_id, expected_version=expected_version)
    _transition(session, config=config, incident=incident, to=to, by=by, now=now, reason=reason)
    return incident


def acknowledge(
    session: Session,
    *,
    incident_id: int,
    by: str,
    now: datetime,
    expected_version: int | None = None,
) -> Incident:
    """Acknowledge a triggered incident; on any later status it changes nothing.

    Idempotent because pages, alert sources and people all acknowledge, often twice.
    """
    incident = load(session, incident_id, expected_version=expected_version)
    if incident.status != "triggered":
        return incident
    _transition(
        session, config=None, incident=incident, to="acknowledged", by=by, now=now, reason=""
    )
    return incident


def retrigger(
    session: Session, *, incident_id: int, by: str, now: datetime, reason: str
) -> Incident:
    """Put an acknowledged incident back to triggered (its acknowledgement timed out).

    On any other status it changes nothing: work under way (investigating and later)
    is a response that does not time out.
    """
    incident = load(session, incident_id)
    if incident.status != "acknowledged":
        return incident
    _transition(
        session, config=None, incident=incident, to="triggered", by=by, now=now, reason=reason
    )
    return incident


def resolve(
    session: Session,
    *,
    incident_id: int,
    by: str,
    now: datetime,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Resolve an open incident; on a resolved or closed one it changes nothing.

    Idempotent because an alert source resolves as often as it likes.
    """
    incident = load(session, incident_id, expected_version=expected_version)
    if not incident.is_open:
        return incident
    _transition(
        session, config=None, incident=incident, to="resolved", by=by, now=now, reason=reason
    )
    return incident


def change_severity(
    session: Session,
    *,
    config: OpsbookConfig,
    incident_id: int,
    severity: str,
    by: str,
    now: datetime,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Change the severity; response targets move to the new level's, counted from trigger.

    A raise also notifies the new level's targets the old level did not have.
    """
    _check_severity(severity)
    incident = load(session, incident_id, expected_version=expected_version)
    require_not_closed(incident, "change the severity")
    previous = incident.severity
    if severity == previous:
        return incident
    old_level = config.severities[previous]  # type: ignore[index]
    level = config.severities[severity]  # type: ignore[index]
    incident.severity = severity
    append_event(
        session,
        incident=incident,
        kind="severity_changed",
        actor=by,
        at=now,
        body=reason,
        data={"from": previous, "to": severity, "reason": reason},
    )
    targets.schedule_respond_within(session, incident=incident, level=level, now=now)
    targets.schedule_next_escalation(session, incident=incident, level=level, now=now)
    if SEVERITIES.index(severity) < SEVERITIES.index(previous):
        message = targets.incident_message(
            incident,
            event="incident.severity_raised",
            title=f"[{severity}] #{incident.number} {incident.title} (was {previous})",
            text=reason or level.meaning,
        )
        targets.fan_out(
            session,
            config=config,
            incident=incident,
            targets=[t for t in level.notify if t not in old_level.notify],
            purpose=f"severity-{severity}",
            message=message,
            actor=by,
            now=now,
        )
    save(session, incident, now=now)
    return incident
