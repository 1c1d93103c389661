"""Job handlers: the postmortem's due date and overdue action-item reminders.

Both re-check what they are about when they run, so a job that fires after the change
that satisfied it (claimed just before the cancel) does nothing.  Reminders go through
:func:`opsbook.incidents.targets.fan_out`: to the outbox for ``channel:`` targets, to
the delivery job of their kind for the others (``person:<owner>`` is on-call's).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from opsbook.config.values import Target
from opsbook.core.jobs import JobContext, JobHandler, JobRegistry, RetryLater
from opsbook.incidents import targets
from opsbook.incidents.models import Incident
from opsbook.incidents.postmortems import deadline
from opsbook.incidents.postmortems.action_items import (
    REMINDER_KIND,
    arm_reminder,
    overdue_from,
)
from opsbook.incidents.postmortems.models import ActionItem
from opsbook.incidents.postmortems.service import due_at, find_postmortem, reminder_targets
from opsbook.incidents.postmortems.state import ACTION_ITEM_OPEN
from opsbook.incidents.postmortems.template import stamp
from opsbook.incidents.timeline import SYSTEM_ACTOR, append_event

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

ConfigSource = Callable[[], "OpsbookConfig"]


def make_postmortem_due_job(config: ConfigSource) -> JobHandler:
    def postmortem_due(ctx: JobContext) -> None:
        payload = ctx.job.payload
        incident = ctx.session.get(Incident, int(payload["incident_id"]))
        resolved_at = datetime.fromisoformat(str(payload["resolved_at"]))
        if incident is None or incident.resolved_at != resolved_at:
            return  # reopened since; a later resolution has a clock of its own
        live = config()
        due = due_at(incident, live.postmortems)
        postmortem = find_postmortem(ctx.session, incident_id=incident.id)
        if due is None or (postmortem is not None and postmortem.published_at is not None):
            return
        if ctx.now < due:
            raise RetryLater(due - ctx.now, "the postmortem is not due yet")
        if postmortem is not None:
            postmortem.overdue_at = ctx.now
        append_event(
            ctx.session,
            incident=incident,
            kind="postmortem_overdue",
            actor=SYSTEM_ACTOR,
            at=ctx.now,
            body=f"The postmortem was due at {stamp(due)} and is not published",
            data={"due_at": due.isoformat(), "drafted": postmortem is not None},
        )
        message = targets.incident_message(
            incident,
            event="incident.postmortem_overdue",
            title=f"[{incident.severity}] #{incident.number} postmortem overdue: {incident.title}",
            text=f"Due at {stamp(due)}, "
            + ("still a draft." if postmortem is not None else "not drafted yet."),
        )
        targets.fan_out(
            ctx.session,
            config=live,
            incident=incident,
            targets=reminder_targets(live),
            purpose=f"postmortem-overdue-{resolved_at:%Y%m%dT%H%M%S}",
            message=message,
            actor=SYSTEM_ACTOR,
            now=ctx.now,
        )

    return postmortem_due


def make_action_item_reminder_job(config: ConfigSource) -> JobHandler:
    def action_item_overdue(ctx: JobContext) -> None:
        payload = ctx.job.payload
        item = ctx.session.get(ActionItem, int(payload["action_item_id"]))
        if (
            item is None
            or item.status not in ACTION_ITEM_OPEN
            or item.reminder_generation != int(payload["generation"])
        ):
            return  # done, cancelled, or its due date or owner changed since
        live = config()
        overdue = overdue_from(item, live)
        if overdue is None:
            return
        if ctx.now < overdue:  # the owner's time zone moved in a config reload
            raise RetryLater(overdue - ctx.now, "the action item is not overdue yet")
        incident = ctx.session.get(Incident, item.incident_id)
        assert incident is not None  # the foreign key cascades
        n = item.reminders_sent
        due = item.due_on.isoformat() if item.due_on else ""
        append_event(
            ctx.session,
            incident=incident,
            kind="action_item_overdue",
            actor=SYSTEM_ACTOR,
            at=ctx.now,
            body=f"Action item {item.id} is overdue: {item.title} (owner {item.owner}, due {due})",
            data={"action_item_id": item.id, "owner": item.owner, "due_on": due, "reminder": n + 1},
        )
        message = targets.incident_message(
            incident,
            event="incident.action_item_overdue",
            title=f"Action item overdue: {item.title}",
            text=f"Owner {item.owner}, due {due}; from the postmortem of #{incident.number} "
            f"{incident.title}.",
        )
        recipients = [Target("person", item.owner)] if item.owner else []
        recipients += [t for t in reminder_targets(live) if t not in recipients]
        targets.fan_out(
            ctx.session,
            config=live,
            incident=incident,
            targets=recipients,
            purpose=f"action-item-{item.id}-overdue-{item.reminder_generation}-{n}",
            message=message,
            actor=SYSTEM_ACTOR,
            now=ctx.now,
        )
        item.reminders_sent = n + 1
        item.last_reminded_at = ctx.now
        ctx.session.flush()
        arm_reminder(ctx.session, item, live, ctx.now)

    return action_item_overdue


def register_postmortem_jobs(registry: JobRegistry, *, config: ConfigSource) -> None:
    registry.register(deadline.DUE_KIND, make_postmortem_due_job(config))
    registry.register(REMINDER_KIND, make_action_item_reminder_job(config))
