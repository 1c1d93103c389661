"""Response targets and notification fan-out, shared by the service and the job handlers.

Job keys (unique, so scheduling twice is harmless):

- ``incident:{id}:respond_within`` — one per incident; moved when the severity changes.
- ``incident:{id}:escalate_after:{cycle}:{level}`` — one per escalation level.  Only the
  next level is ever pending; its handler schedules the one after.  ``cycle`` grows when
  a resolved incident is reopened, because a cancelled job's key cannot be used again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig, SeverityLevel
from opsbook.config.values import Target
from opsbook.core import jobs
from opsbook.incidents.models import Incident
from opsbook.incidents.timeline import append_event
from opsbook.notify.base import ChannelConfig
from opsbook.notify.message import Message
from opsbook.notify.service import UnknownChannel, notify

RESPOND_KIND = "incidents.respond_within"
ESCALATE_KIND = "incidents.escalate_after"

# Until on-call (people, schedules) and the status page exist, these targets are recorded
# on the timeline so nothing is silently dropped, and those domains can pick them up.
_PENDING_REASON: Mapping[str, str] = {
    "oncall": "pending on-call support",
    "person": "pending on-call support",
    "team": "pending on-call support",
    "status_page": "pending status page support",
    "stakeholders": "pending stakeholder support",
}


def respond_key(incident_id: int) -> str:
    return f"incident:{incident_id}:respond_within"


def escalate_key(incident_id: int, *, cycle: int, level: int) -> str:
    return f"incident:{incident_id}:escalate_after:{cycle}:{level}"


def ack_target(level: SeverityLevel) -> timedelta:
    """How long the first response may take: the page-ack target when set (P0: 5 min)."""
    return level.ack_within if level.ack_within is not None else level.respond_within


def schedule_respond_within(
    session: Session, *, incident: Incident, level: SeverityLevel, now: datetime
) -> None:
    """(Re)place the respond-within deadline, counted from when the incident triggered."""
    if incident.acknowledged_at is not None or incident.breached_at is not None:
        return
    if not incident.is_open:
        return
    run_at = max(now, incident.triggered_at + ack_target(level))
    jobs.schedule(
        session,
        kind=RESPOND_KIND,
        key=respond_key(incident.id),
        run_at=run_at,
        now=now,
        payload={"incident_id": incident.id},
        replace=True,
    )


def schedule_next_escalation(
    session: Session, *, incident: Incident, level: SeverityLevel, now: datetime
) -> None:
    """Schedule the next level (n) at ``escalation_since + n * escalate_after``.

    A level already due (P0's "at once", or a severity raised late) runs at ``now``.
    When the policy has no next level, a pending one from an earlier severity is cancelled.
    """
    next_level = incident.escalation_level + 1
    key = escalate_key(incident.id, cycle=incident.escalation_cycle, level=next_level)
    if not incident.is_open or next_level > len(level.escalate_to):
        jobs.cancel(session, key=key, now=now)
        return
    run_at = max(now, incident.escalation_since + next_level * level.escalate_after)
    jobs.schedule(
        session,
        kind=ESCALATE_KIND,
        key=key,
        run_at=run_at,
        now=now,
        payload={
            "incident_id": incident.id,
            "cycle": incident.escalation_cycle,
            "level": next_level,
        },
        replace=True,
    )


def cancel_respond_within(session: Session, *, incident: Incident, now: datetime) -> None:
    jobs.cancel(session, key=respond_key(incident.id), now=now)


def cancel_escalation(session: Session, *, incident: Incident, now: datetime) -> None:
    next_level = incident.escalation_level + 1
    jobs.cancel(
        session,
        key=escalate_key(incident.id, cycle=incident.escalation_cycle, level=next_level),
        now=now,
    )


def channels_of(config: OpsbookConfig) -> dict[str, ChannelConfig]:
    return {channel.name: channel for channel in config.channels}


def incident_message(incident: Incident, *, event: str, title: str, text: str = "") -> Message:
    return Message(
        title=title,
        text=text,
        severity=incident.severity,
        fields={
            "incident": f"#{incident.number}",
            "status": incident.status,
            "service": incident.service or "",
            "channel": incident.channel_name,
        },
        event=event,
    )


def fan_out(
    session: Session,
    *,
    config: OpsbookConfig,
    incident: Incident,
    targets: Iterable[Target],
    purpose: str,
    message: Message,
    actor: str,
    now: datetime,
) -> None:
    """Queue ``message`` for each ``channel:`` target; record every other target as pending.

    The idempotency key ``incident:{id}:{purpose}:{channel}`` makes a retried job or a
    repeated call harmless.  An unknown channel (a config reload removed it) is recorded,
    not raised: failing to open an incident over a notification setting would be worse.
    """
    channels = channels_of(config)
    for target in targets:
        if target.kind != "channel":
            append_event(
                session,
                incident=incident,
                kind="notification_pending",
                actor=actor,
                at=now,
                body=f"{target}: {_PENDING_REASON[target.kind]}",
                data={"target": str(target), "purpose": purpose},
            )
            continue
        key = f"incident:{incident.id}:{purpose}:{target.name}"
        try:
            queued = notify(
                session,
                channels=channels,
                channel=target.name,
                message=message,
                idempotency_key=key,
                now=now,
                source=f"incident:{incident.id}",
            )
        except UnknownChannel as exc:
            append_event(
                session,
                incident=incident,
                kind="notification_pending",
                actor=actor,
                at=now,
                body=f"{target}: {exc}",
                data={"target": str(target), "purpose": purpose, "error": str(exc)},
            )
            continue
        if queued:
            append_event(
                session,
                incident=incident,
                kind="notification_queued",
                actor=actor,
                at=now,
                body=f"{message.title} → {target}",
                data={"target": str(target), "purpose": purpose, "outbox_key": key},
            )
