"""Paging people: targets to people, people to contact methods, methods to the outbox.

Every page is one outbox row (``notify.service.notify``) with the idempotency key
``page:{incident}:{step}:{person}:{n}-{method}``: a job that runs twice, or two workers
racing on a step, write it once, so no one is paged twice for the same step.  Each new
page is recorded on the incident's timeline as ``paged`` with ``{person, channel, level,
step, notification_key}``.  A contact method with ``after: 2m`` is a durable job of its
own (``oncall.contact``), sent only if the incident is still unacknowledged by then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig, PersonConfig
from opsbook.core import jobs
from opsbook.incidents.deliveries import outbox_source
from opsbook.incidents.models import Incident
from opsbook.incidents.targets import UNTIL_ACK, incident_message, scoped_job_key
from opsbook.incidents.timeline import append_event
from opsbook.notify.message import Link, Message
from opsbook.notify.service import UnknownChannel, notify
from opsbook.oncall.config import ContactMethodConfig, PolicyTarget
from opsbook.oncall.links import LINK_LABELS, LinkAction, link_url, sign_link
from opsbook.oncall.models import RoundRobinTurn
from opsbook.oncall.service import person_at

log = structlog.get_logger(__name__)

CONTACT_KIND = "oncall.contact"
SYSTEM_ACTOR = "opsbook"


@dataclass(frozen=True)
class PagingEnv:
    """What paging reads from the running instance: live config, signing key, public URL."""

    config: Callable[[], OpsbookConfig]
    secret_key: Callable[[], str]
    base_url: Callable[[], str]


def env_from(runtime: Any) -> PagingEnv:
    """The paging environment of a :class:`~opsbook.runtime.Runtime`."""
    return PagingEnv(
        config=lambda: runtime.config,
        secret_key=runtime.secret_key,
        base_url=runtime.public_base_url,
    )


@dataclass(frozen=True, slots=True)
class Step:
    """One paging step: its id (part of every idempotency key), level and escalation."""

    id: str
    level: int
    escalation_id: int | None = None
    run: int = 0
    can_escalate: bool = False


def resolve_people(
    session: Session,
    *,
    config: OpsbookConfig,
    target: PolicyTarget,
    schedule: str | None,
    now: datetime,
    team_mode: str = "all",
    policy: str = "",
    level: int = 0,
) -> tuple[list[str], str | None]:
    """Whom ``target`` means at ``now``; or nobody and why (a gap, a removed person)."""
    if target.kind in ("oncall", "schedule"):
        name = schedule if target.kind == "oncall" else target.name
        found = config.oncall.find_schedule(name) if name else None
        if found is None or target.layer not in found.layers.defined():
            return [], f"no schedule {name!r} with a {target.layer} layer"
        person = person_at(session, config=config, schedule=found, layer=target.layer, at=now)
        if person is None:
            return [], f"no one is on call for {found.name} ({target.layer}): a gap"
        return [person], None
    if target.kind == "person":
        if config.find_person(target.name) is None:
            return [], f"no person {target.name!r} in people:"
        return [target.name], None
    team = config.find_team(target.name)
    if team is None:
        return [], f"no team {target.name!r}"
    if team_mode != "round_robin":
        return list(team.members), None
    turn = session.get(RoundRobinTurn, (policy, level, team.name), with_for_update=True)
    if turn is None:
        turn = RoundRobinTurn(policy=policy, level=level, team=team.name, next_index=0)
        session.add(turn)
    member = team.members[turn.next_index % len(team.members)]
    turn.next_index += 1
    return [member], None


def record_unreachable(
    session: Session, *, incident: Incident, target: str, step: Step, reason: str, now: datetime
) -> None:
    append_event(
        session,
        incident=incident,
        kind="notification_unreachable",
        actor=SYSTEM_ACTOR,
        at=now,
        body=f"{target}: {reason}",
        data={"target": target, "purpose": step.id},
    )


def page_targets(
    session: Session,
    *,
    env: PagingEnv,
    incident: Incident,
    targets: Sequence[PolicyTarget],
    schedule: str | None,
    step: Step,
    base: Message,
    now: datetime,
    team_mode: str = "all",
    policy: str = "",
) -> list[str]:
    """Page everyone ``targets`` mean, each person once; returns who was paged."""
    config = env.config()
    people: list[str] = []
    for target in targets:
        found, problem = resolve_people(
            session,
            config=config,
            target=target,
            schedule=schedule,
            now=now,
            team_mode=team_mode,
            policy=policy,
            level=step.level,
        )
        if problem is not None:
            record_unreachable(
                session, incident=incident, target=str(target), step=step, reason=problem, now=now
            )
        people += [p for p in found if p not in people]
    for person_id in people:
        page_person(
            session, env=env, incident=incident, person_id=person_id, step=step, base=base, now=now
        )
    return people


def page_person(
    session: Session,
    *,
    env: PagingEnv,
    incident: Incident,
    person_id: str,
    step: Step,
    base: Message,
    now: datetime,
) -> None:
    """Apply the person's notification rules: methods due now are queued, later ones wait."""
    person = env.config().find_person(person_id)
    if person is None or not person.contact:
        reason = "not in people:" if person is None else "has no contact methods"
        record_unreachable(
            session,
            incident=incident,
            target=f"person:{person_id}",
            step=step,
            reason=reason,
            now=now,
        )
        return
    for index, method in enumerate(person.contact):
        if method.after <= timedelta(0):
            send_page(
                session,
                env=env,
                incident=incident,
                person=person,
                index=index,
                step=step,
                base=base,
                now=now,
            )
            continue
        jobs.schedule(
            session,
            kind=CONTACT_KIND,
            key=scoped_job_key(
                incident.id, UNTIL_ACK, f"oncall-contact:{step.id}:{person.id}:{index}"
            ),
            run_at=now + method.after,
            now=now,
            payload={
                "incident_id": incident.id,
                "person": person.id,
                "method": index,
                "step": dataclasses.asdict(step),
                "message": base.to_dict(),
            },
        )


def notification_key(incident_id: int, step: str, person: str, index: int, method: str) -> str:
    return f"page:{incident_id}:{step}:{person}:{index}-{method}"


def send_page(
    session: Session,
    *,
    env: PagingEnv,
    incident: Incident,
    person: PersonConfig,
    index: int,
    step: Step,
    base: Message,
    now: datetime,
) -> bool:
    """Queue one page on one contact method; False when it was queued before."""
    config = env.config()
    method = person.contact[index]
    key = notification_key(incident.id, step.id, person.id, index, method.method)
    message = page_message(env, incident=incident, person=person, step=step, base=base, now=now)
    try:
        queued = notify(
            session,
            channels={c.name: c for c in config.channels},
            channel=method.channel,
            message=message,
            idempotency_key=key,
            now=now,
            target=address(person, method),
            source=outbox_source(incident.id),
        )
    except (UnknownChannel, ValueError) as exc:
        record_unreachable(
            session,
            incident=incident,
            target=f"person:{person.id}",
            step=step,
            reason=str(exc),
            now=now,
        )
        return False
    if queued:
        append_event(
            session,
            incident=incident,
            kind="paged",
            actor=SYSTEM_ACTOR,
            at=now,
            body=f"Paged {person.name} by {method.method} ({method.channel})",
            data={
                "person": person.id,
                "channel": method.channel,
                "level": step.level,
                "step": step.id,
                "notification_key": key,
            },
        )
        log.info(
            "oncall.paged",
            incident_id=incident.id,
            person=person.id,
            step=step.id,
            channel=method.channel,
        )
    return queued


def address(person: PersonConfig, method: ContactMethodConfig) -> str | None:
    """The target the channel delivers to: an address, a phone number, or none."""
    if method.to:
        return method.to
    if method.method == "email":
        return person.email
    if method.method in ("sms", "voice"):
        return person.phone
    if method.method == "slack":
        return person.slack
    if method.method == "console":
        return person.id
    return None


def page_links(
    env: PagingEnv, *, incident: Incident, person: str, step: Step, now: datetime
) -> tuple[Link, ...]:
    config = env.config()
    actions: list[LinkAction] = ["ack", "resolve"]
    if step.can_escalate:
        actions.append("escalate")
    actions.append("open")
    expires = now + config.oncall.link_ttl
    return tuple(
        Link(
            LINK_LABELS[action],
            link_url(
                env.base_url(),
                sign_link(
                    env.secret_key(),
                    incident_id=incident.id,
                    action=action,
                    person=person,
                    step=step.id,
                    expires_at=expires,
                ),
            ),
        )
        for action in actions
    )


def page_message(
    env: PagingEnv,
    *,
    incident: Incident,
    person: PersonConfig,
    step: Step,
    base: Message,
    now: datetime,
) -> Message:
    fields = {**base.fields, "paged": person.name}
    if step.level:
        fields["level"] = str(step.level)
    return dataclasses.replace(
        base,
        event="incident.paged",
        fields=fields,
        links=base.links + page_links(env, incident=incident, person=person.id, step=step, now=now),
    )


def step_message(incident: Incident, *, level: int, run: int) -> Message:
    """What an escalation step says when it pages (no delivery message to reuse)."""
    again = " (paged again: the acknowledgement timed out)" if run else ""
    return incident_message(
        incident,
        event="incident.paged",
        title=f"#{incident.number} {incident.title}",  # channels prefix the severity
        text=f"You are paged at escalation level {level}{again}. Acknowledge to stop the "
        "escalation.",
    )


def step_from(payload: dict[str, Any]) -> Step:
    return Step(
        id=str(payload["id"]),
        level=int(payload["level"]),
        escalation_id=payload.get("escalation_id"),
        run=int(payload.get("run", 0)),
        can_escalate=bool(payload.get("can_escalate", False)),
    )
