"""The escalation auditor: finds an unacknowledged incident whose next page is lost, and fixes it.

Grafana OnCall's most reported failure was an escalation that silently never fired.
Here every step is a durable job, and this periodic job (``oncall.audit``, every minute)
checks that for each active escalation of an open, unacknowledged incident:

- **missing**: there is a next step at all;
- **lost**: its job exists and is still pending or running (not deleted, cancelled,
  parked dead, or finished without the escalation moving on);
- **overdue**: a never-tried pending step is not more than :data:`GRACE` past due, while
  the auditor itself runs on time (when the auditor is late too, the whole worker is
  behind and re-scheduling would not help, so it only logs);
- **never started**: a triggered incident whose ``oncall:`` delivery job was lost or
  parked dead has an escalation.

Each repair re-schedules the step (under a fresh key, so the old one, should it ever
run, does nothing), adds an ``escalation_repaired`` entry to the timeline and logs
``oncall.audit.repaired``.  In a healthy system it finds nothing (a test proves that
over a long fake-clock run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.core import jobs
from opsbook.core.models import Job
from opsbook.incidents.models import Incident
from opsbook.incidents.state import OPEN_STATUSES
from opsbook.incidents.targets import target_job_kind
from opsbook.incidents.timeline import append_event
from opsbook.oncall import escalation as escalations
from opsbook.oncall.models import Escalation

log = structlog.get_logger(__name__)

AUDIT_KIND: Final = "oncall.audit"
AUDIT_EVERY: Final = timedelta(minutes=1)
GRACE: Final = timedelta(minutes=2)
LOOK_BACK: Final = timedelta(days=7)
MAX_PER_RUN: Final = 1000


@dataclass(frozen=True, slots=True)
class Finding:
    incident_id: int
    problem: str  # missing | lost | overdue | never_started
    detail: str
    step_key: str | None = None


def schedule_audit(session: Session, *, now: datetime) -> None:
    """Book the next audit at the next whole minute (a unique key per slot)."""
    slot = now.replace(second=0, microsecond=0) + AUDIT_EVERY
    jobs.schedule(
        session, kind=AUDIT_KIND, key=f"{AUDIT_KIND}:{slot.isoformat()}", run_at=slot, now=now
    )


def _next_step(escalation: Escalation) -> tuple[int, int] | None:
    levels = len(escalation.snapshot["levels"])
    if escalation.level == 0:
        return 0, 1
    if escalation.level < levels:
        return escalation.pass_number, escalation.level + 1
    if escalation.pass_number < int(escalation.snapshot["repeat"]):
        return escalation.pass_number + 1, 1
    return None


def _check(
    session: Session, escalation: Escalation, *, due_at: datetime, on_time: bool
) -> tuple[str, str] | None:
    if escalation.next_step_key is None:
        return "missing", "an active escalation has no next step"
    job = session.scalar(select(Job).where(Job.key == escalation.next_step_key))
    if job is None:
        return "lost", "the next step's job is gone"
    if job.status in ("cancelled", "dead", "done"):
        return "lost", f"the next step's job is {job.status}"
    if on_time and job.status == "pending" and job.attempts == 0 and job.run_at + GRACE < due_at:
        return "overdue", f"the next step was due at {job.run_at.isoformat()}"
    return None


def audit(
    session: Session, *, config: OpsbookConfig, now: datetime, due_at: datetime | None = None
) -> list[Finding]:
    """Check every active escalation and repair what is wrong; returns what was repaired.

    ``due_at`` is when this audit was due (the job's ``run_at``); it defaults to ``now``.
    """
    due_at = due_at or now
    on_time = now - due_at < GRACE
    if not on_time:
        log.warning("oncall.audit.late", late_seconds=int((now - due_at).total_seconds()))
    findings: list[Finding] = []
    candidates = session.scalars(
        select(Escalation.id)
        .join(Incident, Incident.id == Escalation.incident_id)
        .where(Escalation.status == "active", Incident.status.in_(sorted(OPEN_STATUSES)))
        .order_by(Escalation.id)
        .limit(MAX_PER_RUN)
    ).all()
    for escalation_id in candidates:
        # Locked, and read afresh: a step committing meanwhile is seen as it left things.
        escalation = session.get(
            Escalation, escalation_id, with_for_update=True, populate_existing=True
        )
        incident = session.get(Incident, escalation.incident_id) if escalation else None
        if escalation is None or escalations.stop_reason(escalation, incident) is not None:
            continue
        problem = _check(session, escalation, due_at=due_at, on_time=on_time)
        if problem is not None and incident is not None:
            findings.append(_repair(session, escalation, incident, problem, now=now))
    findings += _never_started(session, config=config, now=now)
    return findings


def _repair(
    session: Session,
    escalation: Escalation,
    incident: Incident,
    problem: tuple[str, str],
    *,
    now: datetime,
) -> Finding:
    kind, detail = problem
    lost_key = escalation.next_step_key
    escalation.repairs += 1
    step = _next_step(escalation)
    if step is None:
        escalation.status = "exhausted"
        escalation.next_step_key = escalation.next_step_at = None
        escalation.finished_at = now
        new_key = None
    else:
        due = max(now, escalation.next_step_at or now) if kind != "overdue" else now
        new_key = escalations.schedule_step(
            session,
            escalation,
            pass_number=step[0],
            level=step[1],
            due=due,
            now=now,
            repair=escalation.repairs,
        )
    append_event(
        session,
        incident=incident,
        kind="escalation_repaired",
        actor="opsbook",
        at=now,
        body=f"Escalation auditor: {detail}; re-scheduled the next step",
        data={"problem": kind, "detail": detail, "lost_key": lost_key, "step_key": new_key},
    )
    log.warning(
        "oncall.audit.repaired",
        incident_id=incident.id,
        problem=kind,
        detail=detail,
        lost_key=lost_key,
        step_key=new_key,
    )
    return Finding(incident.id, kind, detail, new_key)


def _never_started(session: Session, *, config: OpsbookConfig, now: datetime) -> list[Finding]:
    """Triggered incidents whose ``oncall:`` opened-delivery was lost before it started one."""
    findings: list[Finding] = []
    rows = session.scalars(
        select(Incident)
        .outerjoin(Escalation, Escalation.incident_id == Incident.id)
        .where(
            Incident.status == "triggered",
            Incident.triggered_at >= now - LOOK_BACK,
            Escalation.id.is_(None),
        )
        .order_by(Incident.id)
        .limit(MAX_PER_RUN)
    ).all()
    for incident in rows:
        level = config.severities[incident.severity]  # type: ignore[index]
        roles = [t for t in level.notify if t.kind == "oncall"]
        route = config.oncall.route(service=incident.service, severity=incident.severity)
        if not roles or route is None or route.policy is None:
            continue
        keys = [f"incident:{incident.id}:opened:{role}" for role in roles]
        found = session.scalars(
            select(Job).where(Job.key.in_(keys), Job.kind == target_job_kind("oncall"))
        ).all()
        if any(job.status in ("pending", "running", "done") for job in found):
            continue  # on its way, or started (or rightly declined) by the handler
        detail = "the on-call delivery was lost before the escalation started"
        escalation = escalations.start(
            session, config=config, incident=incident, route=route, now=now
        )
        if escalation is None:
            continue
        escalation.repairs += 1
        append_event(
            session,
            incident=incident,
            kind="escalation_repaired",
            actor="opsbook",
            at=now,
            body=f"Escalation auditor: {detail}; started it",
            data={
                "problem": "never_started",
                "detail": detail,
                "lost_key": None,
                "step_key": escalation.next_step_key,
            },
        )
        log.warning("oncall.audit.repaired", incident_id=incident.id, problem="never_started")
        findings.append(Finding(incident.id, "never_started", detail, escalation.next_step_key))
    return findings
