"""Response-target job handlers: the respond-within breach and the escalation levels.

Both are rows in the jobs table (see :mod:`opsbook.incidents.targets` for their keys), so
they survive restarts.  The state change that satisfies one cancels it in the same
transaction; a handler that still fires (it was claimed just before the cancel, or an
older release scheduled it) re-checks the incident and does nothing when satisfied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from opsbook.config.values import format_duration
from opsbook.core.jobs import JobContext, JobHandler, JobRegistry
from opsbook.incidents import targets
from opsbook.incidents.lifecycle import save
from opsbook.incidents.models import Incident
from opsbook.incidents.postmortems.jobs import register_postmortem_jobs
from opsbook.incidents.timeline import SYSTEM_ACTOR, append_event

if TYPE_CHECKING:  # the schema imports opsbook.incidents.config: no import cycle at run time
    from opsbook.config.schema import OpsbookConfig

ConfigSource = Callable[[], "OpsbookConfig"]


def make_respond_within_job(config: ConfigSource) -> JobHandler:
    def respond_within(ctx: JobContext) -> None:
        incident = ctx.session.get(Incident, int(ctx.job.payload["incident_id"]))
        if (
            incident is None
            or not incident.is_open
            or incident.acknowledged_at is not None
            or incident.breached_at is not None
        ):
            return
        live = config()
        level = live.severities[incident.severity]  # type: ignore[index]
        target = targets.ack_target(level)
        incident.breached_at = ctx.now
        append_event(
            ctx.session,
            incident=incident,
            kind="response_breached",
            actor=SYSTEM_ACTOR,
            at=ctx.now,
            body=f"No acknowledgement within {format_duration(target)} "
            f"({incident.severity} target)",
            data={"target_seconds": int(target.total_seconds()), "severity": incident.severity},
        )
        message = targets.incident_message(
            incident,
            event="incident.response_breached",
            title=f"[{incident.severity}] #{incident.number} not acknowledged in time",
            text=incident.title,
        )
        targets.fan_out(
            ctx.session,
            config=live,
            incident=incident,
            targets=level.escalate_to,
            purpose="breached",
            message=message,
            actor=SYSTEM_ACTOR,
            now=ctx.now,
        )
        save(ctx.session, incident, now=ctx.now)

    return respond_within


def make_escalate_after_job(config: ConfigSource) -> JobHandler:
    def escalate_after(ctx: JobContext) -> None:
        payload = ctx.job.payload
        incident = ctx.session.get(Incident, int(payload["incident_id"]))
        level_number = int(payload["level"])
        if (
            incident is None
            or not incident.is_open
            or int(payload["cycle"]) != incident.escalation_cycle
            or level_number != incident.escalation_level + 1
        ):
            return  # satisfied, superseded by a reopen, or already done
        live = config()
        level = live.severities[incident.severity]  # type: ignore[index]
        if level_number > len(level.escalate_to):
            return  # the severity changed to one with fewer levels
        target = level.escalate_to[level_number - 1]
        incident.escalation_level = level_number
        append_event(
            ctx.session,
            incident=incident,
            kind="escalated",
            actor=SYSTEM_ACTOR,
            at=ctx.now,
            body=f"Still {incident.status}: escalated to level {level_number} ({target})",
            data={"level": level_number, "target": str(target), "cycle": incident.escalation_cycle},
        )
        message = targets.incident_message(
            incident,
            event="incident.escalated",
            title=f"[{incident.severity}] #{incident.number} escalated: {incident.title}",
            text=f"Still {incident.status} after "
            f"{format_duration(level.escalate_after * level_number)}.",
        )
        targets.fan_out(
            ctx.session,
            config=live,
            incident=incident,
            targets=[target],
            purpose=f"escalated-{incident.escalation_cycle}-{level_number}",
            message=message,
            actor=SYSTEM_ACTOR,
            now=ctx.now,
        )
        targets.schedule_next_escalation(ctx.session, incident=incident, level=level, now=ctx.now)
        save(ctx.session, incident, now=ctx.now)

    return escalate_after


def unreachable_target(ctx: JobContext) -> None:
    """Fallback for a target kind no domain handles: say so on the incident's timeline."""
    delivery = targets.TargetDelivery.from_payload(ctx.job.payload)
    incident = ctx.session.get(Incident, delivery.incident_id)
    if incident is None:
        return
    reason = targets.UNREACHABLE_REASON[delivery.target.kind]
    append_event(
        ctx.session,
        incident=incident,
        kind="notification_unreachable",
        actor=SYSTEM_ACTOR,
        at=ctx.now,
        body=f"{delivery.target}: {reason}",
        data={"target": str(delivery.target), "purpose": delivery.purpose},
    )


def nobody_listens(ctx: JobContext) -> None:
    """Fallback for ``incidents.acknowledged`` when no domain acts on acknowledgements."""


def register_incident_jobs(registry: JobRegistry, *, config: ConfigSource) -> None:
    """Register the response-target and postmortem kinds; ``config`` reads the live config.

    Also registers fallbacks for the target-delivery kinds, which on-call and the status
    page replace with real handlers (:func:`opsbook.incidents.targets.target_job_kind`).
    """
    registry.register(targets.RESPOND_KIND, make_respond_within_job(config))
    registry.register(targets.ESCALATE_KIND, make_escalate_after_job(config))
    register_postmortem_jobs(registry, config=config)
    for kind in targets.TARGET_KINDS:
        registry.register_fallback(targets.target_job_kind(kind), unreachable_target)
    registry.register_fallback(targets.ACKNOWLEDGED_KIND, nobody_listens)
