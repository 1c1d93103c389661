"""On-call's job handlers: target deliveries, escalation steps, delayed contacts, audits.

``oncall:primary`` and ``oncall:secondary`` resolve through ``oncall.routes``: the first
route matching the incident's service and severity names a schedule and a policy.

- An ``opened`` delivery of an ``oncall:`` target starts the incident's escalation with
  that policy (one per incident: when a severity names both roles, P0's default, the
  second finds it started).  If the policy's first level does not page that role, the
  role's current on-call is paged once besides, so "page primary and secondary" holds.
  Without a policy the role is paged once.
- Other purposes (``breached``, ``escalated-…``, ``severity-…``) page once: the role's
  current on-call, the person, or every member of the team, each by their own rules.
"""

from __future__ import annotations

from opsbook.config.values import Target
from opsbook.core.jobs import JobContext, JobHandler, JobRegistry
from opsbook.incidents.models import Incident
from opsbook.incidents.targets import ACKNOWLEDGED_KIND, TargetDelivery, target_job_kind
from opsbook.oncall import auditor, escalation
from opsbook.oncall.config import PolicyTarget
from opsbook.oncall.paging import CONTACT_KIND, PagingEnv, Step, page_targets, record_unreachable

TARGET_KINDS = ("oncall", "person", "team")


def _policy_target(target: Target, schedule: str | None) -> PolicyTarget:
    if target.kind == "oncall":
        return PolicyTarget("schedule", schedule or "", target.name)
    return PolicyTarget(target.kind, target.name)  # type: ignore[arg-type]


def make_target_handler(env: PagingEnv) -> JobHandler:
    def deliver(ctx: JobContext) -> None:
        delivery = TargetDelivery.from_payload(ctx.job.payload)
        incident = ctx.session.get(Incident, delivery.incident_id)
        if incident is None or not incident.is_open:
            return
        config = env.config()
        target = delivery.target
        step = Step(id=f"{delivery.purpose}:{target}", level=0)
        schedule = None
        if target.kind == "oncall":
            route = config.oncall.route(service=incident.service, severity=incident.severity)
            if route is None:
                record_unreachable(
                    ctx.session,
                    incident=incident,
                    target=str(target),
                    step=step,
                    reason="no on-call route or schedule is configured",
                    now=ctx.now,
                )
                return
            schedule = route.schedule
            if delivery.purpose == "opened":
                if incident.acknowledged_at is not None:
                    return  # answered before the page went out
                started = escalation.start(
                    ctx.session, config=config, incident=incident, route=route, now=ctx.now
                )
                if started is not None and escalation.level_one_pages(
                    started, schedule=route.schedule, layer=target.name
                ):
                    return  # its first step pages this role
        page_targets(
            ctx.session,
            env=env,
            incident=incident,
            targets=[_policy_target(target, schedule)],
            schedule=schedule,
            step=step,
            base=delivery.message,
            now=ctx.now,
        )

    return deliver


def make_step_handler(env: PagingEnv) -> JobHandler:
    def step(ctx: JobContext) -> None:
        escalation.run_step(
            ctx.session, env=env, key=ctx.job.key, payload=ctx.job.payload, now=ctx.now
        )

    return step


def make_contact_handler(env: PagingEnv) -> JobHandler:
    def contact(ctx: JobContext) -> None:
        escalation.send_delayed_contact(ctx.session, env=env, payload=ctx.job.payload, now=ctx.now)

    return contact


def acknowledged(ctx: JobContext) -> None:
    escalation.on_acknowledged(
        ctx.session, incident_id=int(ctx.job.payload["incident_id"]), now=ctx.now
    )


def retrigger(ctx: JobContext) -> None:
    escalation.retrigger(ctx.session, payload=ctx.job.payload, now=ctx.now)


def make_audit_handler(env: PagingEnv) -> JobHandler:
    def audit(ctx: JobContext) -> None:
        auditor.audit(ctx.session, config=env.config(), now=ctx.now, due_at=ctx.job.run_at)
        auditor.schedule_audit(ctx.session, now=ctx.now)

    return audit


def register_oncall_jobs(registry: JobRegistry, *, env: PagingEnv) -> None:
    """Take over the ``oncall``, ``person`` and ``team`` targets and run escalations."""
    deliver = make_target_handler(env)
    for kind in TARGET_KINDS:
        registry.register(target_job_kind(kind), deliver)
    registry.register(ACKNOWLEDGED_KIND, acknowledged)
    registry.register(escalation.STEP_KIND, make_step_handler(env))
    registry.register(escalation.RETRIGGER_KIND, retrigger)
    registry.register(CONTACT_KIND, make_contact_handler(env))
    registry.register(auditor.AUDIT_KIND, make_audit_handler(env))
