"""Durable jobs of the status page.

- ``incidents.target.status_page``: an incident's severity policy names the status page
  (P0 and P1 by default).  ``status_page.on_incident`` says what happens: ``draft``
  (the default) prepares a public incident for a person to publish from the incident
  page or ``opsbook status publish``; ``publish`` posts it at once; ``ignore`` only
  records that nothing was posted.  The public title and message come from
  ``status_page.wording``, never from the internal title, which may say more than
  customers should read.
- ``status.notify_subscribers``: one per published update (see subscribers.py).
- ``status.follow_incidents``: every minute; with ``status_page.on_resolve: resolve`` it
  posts the resolved update of a public incident whose internal incident was resolved.
  With ``prompt`` (the default) the dashboard lists those incidents for a person.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.config import OpsbookConfig
from opsbook.core.jobs import JobContext, JobRegistry, schedule
from opsbook.incidents.models import Incident
from opsbook.incidents.targets import TargetDelivery, target_job_kind
from opsbook.incidents.timeline import append_event
from opsbook.status import service
from opsbook.status.components import catalogue, resolve_component
from opsbook.status.models import StatusIncident
from opsbook.status.subscribers import deliver_update
from opsbook.status.wording import message_for, title_for

FOLLOW_KIND = "status.follow_incidents"
FOLLOW_EVERY = timedelta(minutes=1)
ACTOR = "opsbook:status"
ConfigSource = Callable[[], OpsbookConfig]


def _next_slot(now: datetime, every: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return epoch + ((now - epoch) // every + 1) * every


def schedule_status_jobs(session: Session, *, now: datetime) -> None:
    slot = _next_slot(now, FOLLOW_EVERY)
    schedule(
        session, kind=FOLLOW_KIND, key=f"{FOLLOW_KIND}:{slot.isoformat()}", run_at=slot, now=now
    )


def prepare_public_incident(
    session: Session, *, config: OpsbookConfig, incident: Incident, now: datetime
) -> StatusIncident | None:
    """What the status_page target does for ``incident`` (see the module docstring)."""
    page = config.status_page
    if page.on_incident == "ignore":
        return None
    if service.public_incidents(session, published=None, incident_id=incident.id, limit=1):
        return None  # already prepared (a retried job, or a severity raised to P1 then P0)
    known = catalogue(config)
    statuses: dict[str, str] = {}
    for ref in incident.components:
        try:
            component = resolve_component(known, ref)
        except ValueError:
            continue
        statuses[component.id] = page.incident_impact[incident.severity]  # type: ignore[index]
    names = [c.name for c in known if c.id in statuses]
    return service.open_public_incident(
        session,
        name=title_for(config=config, page=page, component_names=names),
        status="investigating",
        body=message_for("investigating", config=config, page=page, component_names=names),
        component_statuses=statuses,
        by=ACTOR,
        now=now,
        incident_id=incident.id,
        publish=page.on_incident == "publish",
    )


def make_status_page_target(config: ConfigSource) -> Callable[[JobContext], None]:
    def status_page_target(ctx: JobContext) -> None:
        delivery = TargetDelivery.from_payload(ctx.job.payload)
        incident = ctx.session.get(Incident, delivery.incident_id)
        if incident is None or not incident.is_open:
            return
        live = config()
        public = prepare_public_incident(ctx.session, config=live, incident=incident, now=ctx.now)
        mode = live.status_page.on_incident
        if public is None:
            body = (
                "status_page: status_page.on_incident is ignore; nothing was posted"
                if mode == "ignore"
                else "status_page: a public incident already exists"
            )
        elif public.published_at is None:
            body = f"status_page: draft public incident {public.code} prepared; publish it"
        else:
            body = f"status_page: public incident {public.code} published"
        append_event(
            ctx.session,
            incident=incident,
            kind="notification_delivered",
            actor=ACTOR,
            at=ctx.now,
            body=body,
            data={
                "target": "status_page",
                "purpose": delivery.purpose,
                "public_incident": public.code if public else None,
                "mode": mode,
            },
        )

    return status_page_target


def make_notify_job(config: ConfigSource) -> Callable[[JobContext], None]:
    def notify_subscribers(ctx: JobContext) -> None:
        deliver_update(
            ctx.session, config=config(), update_id=int(ctx.job.payload["update_id"]), now=ctx.now
        )

    return notify_subscribers


def make_follow_job(config: ConfigSource) -> Callable[[JobContext], None]:
    def follow_incidents(ctx: JobContext) -> None:
        live = config()
        if live.status_page.on_resolve == "resolve":
            resolve_followers(ctx.session, config=live, now=ctx.now)
        schedule_status_jobs(ctx.session, now=ctx.now)

    return follow_incidents


def resolve_followers(session: Session, *, config: OpsbookConfig, now: datetime) -> int:
    """Post the resolved update of every open public incident whose incident is resolved."""
    names = {c.id: c.name for c in catalogue(config)}
    done = 0
    for public, _number in service.awaiting_resolution(session):
        if public.published_at is None:
            continue
        text = message_for(
            "resolved",
            config=config,
            page=config.status_page,
            component_names=[names.get(c, c) for c in public.components],
        )
        service.post_update(
            session, code=public.code, status="resolved", body=text, by=ACTOR, now=now
        )
        done += 1
    return done


def register_status_jobs(registry: JobRegistry, *, config: ConfigSource) -> None:
    """The real handler of the status_page target (replacing the fallback) and our kinds."""
    registry.register(target_job_kind("status_page"), make_status_page_target(config))
    registry.register(service.NOTIFY_KIND, make_notify_job(config))
    registry.register(FOLLOW_KIND, make_follow_job(config))
