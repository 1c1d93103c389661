"""An incident's paging escalation: a snapshot of its policy, advanced by durable steps.

States (``Escalation.status``) and what moves them:

| from | to | when |
|---|---|---|
| active | acknowledged | the incident is acknowledged (any way: API, CLI, alert, page link) |
| active | resolved | the incident is resolved, closed or merged |
| active | exhausted | the last level of the last repeat was paged and the wait ran out |
| acknowledged | active | re-triggered: still "acknowledged" ``retrigger_after`` later |

A re-trigger also puts the incident back to "triggered", so any acknowledgement answers it.

Exactly one step job is pending while an escalation is active: its key is
``next_step_key`` (``incident:{id}:until-ack:oncall-step:{run}:{pass}:{level}``), which
the incidents lifecycle cancels in the acknowledging or resolving transaction.  A step
re-checks the incident when it runs anyway, so one claimed just before the cancel does
nothing.  The auditor (:mod:`opsbook.oncall.auditor`) checks the pending step exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.core import jobs
from opsbook.core.models import Job
from opsbook.incidents import lifecycle
from opsbook.incidents.models import Incident
from opsbook.incidents.targets import UNTIL_ACK, UNTIL_RESOLVE, scoped_job_key
from opsbook.notify.message import Message
from opsbook.oncall.config import PolicyConfig, PolicyTarget, RouteConfig
from opsbook.oncall.models import Escalation
from opsbook.oncall.paging import (
    PagingEnv,
    Step,
    page_targets,
    send_page,
    step_from,
    step_message,
)
from opsbook.oncall.service import OncallError

log = structlog.get_logger(__name__)

STEP_KIND: Final = "oncall.escalation_step"
RETRIGGER_KIND: Final = "oncall.retrigger"
ESCALATION_STATUSES: Final = ("active", "acknowledged", "resolved", "exhausted")


def escalation_of(session: Session, incident_id: int, *, lock: bool = False) -> Escalation | None:
    stmt = select(Escalation).where(Escalation.incident_id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def snapshot_policy(
    policy: PolicyConfig, *, route: RouteConfig, config: OpsbookConfig
) -> dict[str, Any]:
    """The policy as data, frozen into the escalation when the incident starts."""
    retrigger = config.oncall.retrigger_after
    return {
        "policy": policy.name,
        "schedule": route.schedule,
        "repeat": policy.repeat,
        "retrigger_after": int(retrigger.total_seconds()) if retrigger else None,
        "levels": [
            {
                "targets": [str(t) for t in level.targets],
                "escalate_after": int(level.escalate_after.total_seconds()),
                "team": level.team,
            }
            for level in policy.levels
        ],
    }


def step_key(incident_id: int, *, run: int, pass_number: int, level: int, repair: int = 0) -> str:
    rest = f"oncall-step:{run}:{pass_number}:{level}" + (f":repair-{repair}" if repair else "")
    return scoped_job_key(incident_id, UNTIL_ACK, rest)


def step_id(escalation: Escalation, *, pass_number: int, level: int) -> str:
    return f"e{escalation.id}.r{escalation.run}.p{pass_number}.l{level}"


def start(
    session: Session,
    *,
    config: OpsbookConfig,
    incident: Incident,
    route: RouteConfig,
    now: datetime,
) -> Escalation | None:
    """Start the incident's escalation with the route's policy; idempotent per incident.

    Returns the escalation (new or the one already started), or None when the route
    names no policy or the incident no longer needs paging.
    """
    existing = escalation_of(session, incident.id)
    if existing is not None:
        return existing
    policy = config.oncall.find_policy(route.policy) if route.policy else None
    if policy is None or not incident.is_open or incident.acknowledged_at is not None:
        return None
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Escalation)
        .values(
            incident_id=incident.id,
            policy=policy.name,
            schedule=route.schedule,
            snapshot=snapshot_policy(policy, route=route, config=config),
            status="active",
            run=0,
            pass_number=0,
            level=0,
            started_at=now,
            updated_at=now,
            repairs=0,
        )
        .on_conflict_do_nothing(index_elements=[Escalation.incident_id])
    )
    escalation = escalation_of(session, incident.id, lock=True)
    if escalation is None:
        raise RuntimeError("the escalation row vanished")
    if escalation.next_step_key is None and escalation.status == "active":
        schedule_step(session, escalation, pass_number=0, level=1, due=now, now=now)
        log.info("oncall.escalation_started", incident_id=incident.id, policy=policy.name)
    return escalation


def schedule_step(
    session: Session,
    escalation: Escalation,
    *,
    pass_number: int,
    level: int,
    due: datetime,
    now: datetime,
    repair: int = 0,
) -> str:
    key = step_key(
        escalation.incident_id,
        run=escalation.run,
        pass_number=pass_number,
        level=level,
        repair=repair,
    )
    jobs.schedule(
        session,
        kind=STEP_KIND,
        key=key,
        run_at=due,
        now=now,
        payload={
            "escalation_id": escalation.id,
            "run": escalation.run,
            "pass": pass_number,
            "level": level,
        },
        max_attempts=50,
    )
    escalation.next_step_key = key
    escalation.next_step_at = due
    escalation.updated_at = now
    return key


def stop_reason(escalation: Escalation, incident: Incident | None) -> str | None:
    """Why the escalation must not page any more, or None while it should."""
    if incident is None or not incident.is_open:
        return "resolved"
    if escalation.status != "active":
        return escalation.status
    if escalation.run == 0 and incident.acknowledged_at is not None:
        return "acknowledged"
    if escalation.run > 0 and incident.status != "triggered":
        # The re-trigger put the incident back to triggered: acknowledging it, or moving
        # it on, answers the re-triggered page.
        return "acknowledged"
    return None


def _finish(escalation: Escalation, status: str, now: datetime) -> None:
    escalation.status = status
    escalation.next_step_key = None
    escalation.next_step_at = None
    escalation.finished_at = now
    escalation.updated_at = now


def run_step(
    session: Session, *, env: PagingEnv, key: str, payload: dict[str, Any], now: datetime
) -> list[str]:
    """Page one level, then schedule the next step; returns who was paged."""
    # One statement for both rows; the lock is the escalation's, as the lifecycle's is
    # the incident's.
    row = session.execute(
        select(Escalation, Incident)
        .outerjoin(Incident, Incident.id == Escalation.incident_id)
        .where(Escalation.id == int(payload["escalation_id"]))
        .with_for_update(of=Escalation)
        .execution_options(populate_existing=True)
    ).first()
    if row is None or row[0].next_step_key != key:
        return []  # superseded (repaired, escalated early) or already done
    escalation, incident = row
    reason = stop_reason(escalation, incident)
    if reason is not None or incident is None:
        _finish(escalation, reason or "resolved", now)
        return []
    snapshot = escalation.snapshot
    levels = snapshot["levels"]
    pass_number, level = int(payload["pass"]), int(payload["level"])
    spec = levels[level - 1]
    last = level == len(levels) and pass_number >= int(snapshot["repeat"])
    step = Step(
        id=step_id(escalation, pass_number=pass_number, level=level),
        level=level,
        escalation_id=escalation.id,
        run=escalation.run,
        can_escalate=not last,
    )
    paged = page_targets(
        session,
        env=env,
        incident=incident,
        targets=[PolicyTarget.parse(t) for t in spec["targets"]],
        schedule=escalation.schedule,
        step=step,
        base=step_message(incident, level=level, run=escalation.run),
        now=now,
        team_mode=spec["team"],
        policy=escalation.policy,
    )
    escalation.pass_number, escalation.level = pass_number, level
    due = max(now, (escalation.next_step_at or now) + timedelta(seconds=spec["escalate_after"]))
    if level < len(levels):
        schedule_step(
            session, escalation, pass_number=pass_number, level=level + 1, due=due, now=now
        )
    elif not last:
        schedule_step(session, escalation, pass_number=pass_number + 1, level=1, due=due, now=now)
    else:
        _finish(escalation, "exhausted", now)
        log.warning("oncall.escalation_exhausted", incident_id=incident.id)
    return paged


def level_one_pages(escalation: Escalation, *, schedule: str, layer: str) -> bool:
    """Whether the escalation's first level pages ``layer`` of ``schedule``."""
    for text in escalation.snapshot["levels"][0]["targets"]:
        target = PolicyTarget.parse(text)
        name = escalation.schedule if target.kind == "oncall" else target.name
        if target.kind in ("oncall", "schedule") and (name, target.layer) == (schedule, layer):
            return True
    return False


def _retrigger_key(incident_id: int, run: int) -> str:
    return scoped_job_key(incident_id, UNTIL_RESOLVE, f"oncall-retrigger:{run}")


def _schedule_retrigger(
    session: Session, escalation: Escalation, *, since: datetime, now: datetime
) -> None:
    seconds = escalation.snapshot.get("retrigger_after")
    if not seconds:
        return
    jobs.schedule(
        session,
        kind=RETRIGGER_KIND,
        key=_retrigger_key(escalation.incident_id, escalation.run + 1),
        run_at=since + timedelta(seconds=int(seconds)),
        now=now,
        payload={"escalation_id": escalation.id, "run": escalation.run + 1},
    )


def on_acknowledged(session: Session, *, incident_id: int, now: datetime) -> None:
    """The incident was acknowledged (first, or after a re-trigger): stop paging and arm
    the re-trigger.  The lifecycle already cancelled the pending step in its transaction.
    """
    escalation = escalation_of(session, incident_id, lock=True)
    incident = session.get(Incident, incident_id)
    if escalation is None or incident is None:
        return
    if escalation.status == "active":
        if escalation.run > 0 and incident.status == "triggered":
            return  # an older acknowledgement's announcement, before this re-trigger
        _finish(escalation, "acknowledged", now)
        first = escalation.run == 0
        escalation.acknowledged_at = (incident.acknowledged_at if first else None) or now
    if escalation.status == "acknowledged" and incident.is_open:
        _schedule_retrigger(session, escalation, since=escalation.acknowledged_at or now, now=now)


def retrigger(session: Session, *, payload: dict[str, Any], now: datetime) -> bool:
    """Page again from level 1 when the incident is still only acknowledged."""
    escalation = session.get(Escalation, int(payload["escalation_id"]), with_for_update=True)
    run = int(payload["run"])
    if escalation is None or escalation.run + 1 != run or escalation.status != "acknowledged":
        return False
    incident = session.get(Incident, escalation.incident_id)
    if incident is None or not incident.is_open or incident.status != "acknowledged":
        return False
    seconds = int(escalation.snapshot.get("retrigger_after") or 0)
    lifecycle.retrigger(
        session,
        incident_id=incident.id,
        by="oncall",
        now=now,
        reason=f"not resolved within {seconds // 60} min of the acknowledgement: paging again",
    )
    escalation.run = run
    escalation.status = "active"
    escalation.pass_number = escalation.level = 0
    escalation.acknowledged_at = escalation.acknowledged_by = escalation.finished_at = None
    schedule_step(session, escalation, pass_number=0, level=1, due=now, now=now)
    log.warning("oncall.retriggered", incident_id=incident.id, run=run)
    return True


def acknowledge_page(
    session: Session, *, incident_id: int, by: str, now: datetime
) -> Escalation | None:
    """Acknowledge from a page: the incident (if still triggered) and its escalation."""
    lifecycle.acknowledge(session, incident_id=incident_id, by=by, now=now)
    escalation = escalation_of(session, incident_id, lock=True)
    if escalation is None or escalation.status != "active":
        return escalation
    if escalation.run == 0:
        on_acknowledged(session, incident_id=incident_id, now=now)
    else:
        jobs.cancel_prefixed(session, prefix=scoped_job_key(incident_id, UNTIL_ACK, ""), now=now)
        _finish(escalation, "acknowledged", now)
        escalation.acknowledged_at = now
        _schedule_retrigger(session, escalation, since=now, now=now)
    escalation.acknowledged_by = by
    return escalation


def escalate_now(session: Session, *, incident_id: int, by: str, now: datetime) -> Escalation:
    """Run the pending step at once instead of waiting out the current level."""
    escalation = escalation_of(session, incident_id, lock=True)
    if escalation is None or escalation.status != "active" or escalation.next_step_key is None:
        raise OncallError("this incident has no escalation under way to move on")
    job = session.scalar(select(Job).where(Job.key == escalation.next_step_key))
    if job is None or job.status != "pending":
        raise OncallError("the next escalation step is already under way")
    jobs.schedule(
        session,
        kind=STEP_KIND,
        key=job.key,
        run_at=now,
        now=now,
        payload=dict(job.payload),
        replace=True,
    )
    escalation.next_step_at = now
    escalation.updated_at = now
    log.info("oncall.escalated_now", incident_id=incident_id, by=by)
    return escalation


def send_delayed_contact(
    session: Session, *, env: PagingEnv, payload: dict[str, Any], now: datetime
) -> bool:
    """A contact method's ``after`` ran out: page on it if nobody has acknowledged."""
    incident = session.get(Incident, int(payload["incident_id"]))
    step = step_from(payload["step"])
    if incident is None or not incident.is_open:
        return False
    if step.escalation_id is not None:
        escalation = session.get(Escalation, step.escalation_id)
        if escalation is None or escalation.run != step.run:
            return False
        if stop_reason(escalation, incident) is not None:
            return False
    elif incident.acknowledged_at is not None:
        return False
    person = env.config().find_person(str(payload["person"]))
    index = int(payload["method"])
    if person is None or index >= len(person.contact):
        return False
    return send_page(
        session,
        env=env,
        incident=incident,
        person=person,
        index=index,
        step=step,
        base=Message.from_dict(payload["message"]),
        now=now,
    )
