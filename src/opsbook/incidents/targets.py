"""Response targets and notification fan-out, shared by the service and the job handlers.

Job keys (unique, so scheduling twice is harmless):

- ``incident:{id}:respond_within`` — one per incident; moved when the severity changes.
- ``incident:{id}:escalate_after:{cycle}:{level}`` — one per escalation level.  Only the
  next level is ever pending; its handler schedules the one after.  ``cycle`` grows when
  a resolved incident is reopened, because a cancelled job's key cannot be used again.
- ``incident:{id}:{purpose}:{target}`` — a target that is not a channel (``oncall:``,
  ``person:``, ``team:``, ``status_page``, ``stakeholders``), handed to the domain that
  can reach it as a job of kind ``incidents.target.<kind>`` (see :func:`target_job_kind`).
- ``incident:{id}:acknowledged`` — the first acknowledgement, announced as a job of kind
  ``incidents.acknowledged`` for domains that act on it (on-call's re-trigger timer);
  ``incident:{id}:acknowledged:{stamp}`` for each acknowledgement after a re-trigger.
- ``incident:{id}:until-ack:...`` and ``incident:{id}:until-resolve:...`` — jobs other
  domains schedule for an incident (on-call's escalation steps): the lifecycle cancels
  the first kind in the transaction of every acknowledgement, and both in the one
  that resolves or closes the incident, so none of them fires late.

Target delivery jobs are the seam between incidents and the domains to their right
(DESIGN.md, "The flow"): incidents never import on-call or the status page.  A domain
registers a handler for ``target_job_kind("oncall")`` and friends; its payload is
:class:`TargetDelivery`.  Until one does, the fallback registered by
:func:`opsbook.incidents.jobs.register_incident_jobs` records the target as not yet
reachable, so nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from opsbook.config.values import Target
from opsbook.core import jobs
from opsbook.incidents.deliveries import outbox_source
from opsbook.incidents.models import Incident
from opsbook.incidents.timeline import append_event
from opsbook.notify.base import ChannelConfig
from opsbook.notify.message import Message
from opsbook.notify.service import UnknownChannel, notify

if TYPE_CHECKING:  # the schema imports opsbook.incidents.config: no import cycle at run time
    from opsbook.config.schema import OpsbookConfig, SeverityLevel

RESPOND_KIND = "incidents.respond_within"
ESCALATE_KIND = "incidents.escalate_after"
ACKNOWLEDGED_KIND = "incidents.acknowledged"
UNTIL_ACK: Final = "until-ack"
UNTIL_RESOLVE: Final = "until-resolve"

# What the fallback handler records for a target kind no domain has taken on yet.
UNREACHABLE_REASON: Final[Mapping[str, str]] = {
    "oncall": "no on-call schedules can take it",
    "person": "no on-call support can reach people",
    "team": "no on-call support can reach teams",
    "status_page": "no status page can take it",
    "stakeholders": "no stakeholder list can take it",
}
TARGET_KINDS: Final[tuple[str, ...]] = tuple(UNREACHABLE_REASON)


def target_job_kind(target_kind: str) -> str:
    """The job kind that delivers a non-channel target: ``incidents.target.oncall``."""
    return f"incidents.target.{target_kind}"


@dataclass(frozen=True, slots=True)
class TargetDelivery:
    """A target-delivery job's payload, read back by whichever domain handles it.

    ``message`` is what the incident wants said (a :class:`Message`); ``purpose`` is the
    reason (``opened``, ``breached``, ``escalated-{cycle}-{level}``, ``severity-{P}``),
    unique per incident, so ``(incident_id, purpose, target)`` names one delivery and
    makes a good idempotency key for whatever the handler sends.
    """

    incident_id: int
    target: Target
    purpose: str
    message: Message
    actor: str

    @property
    def key(self) -> str:
        return f"incident:{self.incident_id}:{self.purpose}:{self.target}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "target": str(self.target),
            "purpose": self.purpose,
            "message": self.message.to_dict(),
            "actor": self.actor,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TargetDelivery:
        return cls(
            incident_id=int(payload["incident_id"]),
            target=Target.parse(str(payload["target"])),
            purpose=str(payload["purpose"]),
            message=Message.from_dict(payload["message"]),
            actor=str(payload.get("actor") or "opsbook"),
        )


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


def scoped_job_key(incident_id: int, scope: str, rest: str) -> str:
    """A job key the lifecycle cancels: ``scope`` is :data:`UNTIL_ACK` or :data:`UNTIL_RESOLVE`."""
    return f"incident:{incident_id}:{scope}:{rest}"


def on_response(session: Session, *, incident: Incident, now: datetime, first: bool) -> None:
    """Cancel the incident's until-ack jobs and announce the acknowledgement.

    ``first`` is the incident's first acknowledgement; a later one answers a re-trigger
    and is announced under a key of its own.
    """
    jobs.cancel_prefixed(session, prefix=scoped_job_key(incident.id, UNTIL_ACK, ""), now=now)
    key = f"incident:{incident.id}:acknowledged"
    jobs.schedule(
        session,
        kind=ACKNOWLEDGED_KIND,
        key=key if first else f"{key}:{now:%Y%m%dT%H%M%S%fZ}",
        run_at=now,
        now=now,
        payload={"incident_id": incident.id},
    )


def cancel_scoped_jobs(session: Session, *, incident: Incident, now: datetime) -> None:
    """On resolve, close and merge: cancel every until-ack and until-resolve job."""
    for scope in (UNTIL_ACK, UNTIL_RESOLVE):
        jobs.cancel_prefixed(session, prefix=scoped_job_key(incident.id, scope, ""), now=now)


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
    """Queue ``message`` for each ``channel:`` target; hand every other target to its job.

    The idempotency key ``incident:{id}:{purpose}:{channel}`` makes a retried job or a
    repeated call harmless.  An unknown channel (a config reload removed it) is recorded,
    not raised: failing to open an incident over a notification setting would be worse.
    Other targets become ``incidents.target.<kind>`` jobs, due at once, in this
    transaction, with a ``notification_pending`` entry naming the job.
    """
    channels = channels_of(config)
    for target in targets:
        if target.kind != "channel":
            delivery = TargetDelivery(incident.id, target, purpose, message, actor)
            if jobs.schedule(
                session,
                kind=target_job_kind(target.kind),
                key=delivery.key,
                run_at=now,
                now=now,
                payload=delivery.to_payload(),
            ):
                append_event(
                    session,
                    incident=incident,
                    kind="notification_pending",
                    actor=actor,
                    at=now,
                    body=f"{message.title} → {target}",
                    data={"target": str(target), "purpose": purpose, "job_key": delivery.key},
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
                source=outbox_source(incident.id),
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
