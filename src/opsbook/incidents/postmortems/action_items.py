"""Action items: follow-up work from a postmortem, with an owner, a due date and a status.

An item is due on a calendar day; it is overdue from the following midnight in its
owner's time zone (``people[].timezone``, else ``service.timezone``).  At that moment a
durable job reminds the owner and the postmortem reminder targets, then again every
``postmortems.action_items.remind_every`` while the item stays open.  Job keys are
``action-item:{id}:overdue:{generation}:{n}``: ``generation`` grows when the due date,
the owner or the status changes (which cancels the pending reminder), ``n`` counts the
reminders sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.core import jobs
from opsbook.incidents.lifecycle import load
from opsbook.incidents.postmortems.models import ActionItem, Postmortem
from opsbook.incidents.postmortems.service import PostmortemError, PostmortemNotFound, guarded
from opsbook.incidents.postmortems.state import (
    ACTION_ITEM_OPEN,
    ACTION_ITEM_STATUSES,
    ACTION_ITEM_TRANSITIONS,
    describe_refusal,
)
from opsbook.incidents.timeline import append_event, redact_incident_text

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

REMINDER_KIND: Final = "incidents.action_item_overdue"
MAX_TITLE_LENGTH: Final = 300


def reminder_key(item: ActionItem) -> str:
    return f"action-item:{item.id}:overdue:{item.reminder_generation}:{item.reminders_sent}"


def owner_timezone(config: OpsbookConfig, owner: str | None) -> ZoneInfo:
    person = config.find_person(owner) if owner else None
    if person is not None and person.timezone is not None:
        return person.timezone
    return config.service.timezone


def overdue_from(item: ActionItem, config: OpsbookConfig) -> datetime | None:
    """The instant the item becomes overdue: the midnight after its due day, owner's time."""
    if item.due_on is None:
        return None
    midnight = datetime.combine(item.due_on + timedelta(days=1), time(0))
    return midnight.replace(tzinfo=owner_timezone(config, item.owner)).astimezone(UTC)


def is_overdue(item: ActionItem, config: OpsbookConfig, now: datetime) -> bool:
    deadline = overdue_from(item, config)
    return item.status in ACTION_ITEM_OPEN and deadline is not None and now >= deadline


def _check_owner(config: OpsbookConfig, owner: str) -> None:
    if config.find_person(owner) is None:
        known = ", ".join(p.id for p in config.people) or "none"
        raise PostmortemError(f"no person {owner!r} in people: (known: {known})")


def _check_title(title: str) -> str:
    title = redact_incident_text(" ".join(title.split()))
    if not title or len(title) > MAX_TITLE_LENGTH:
        raise PostmortemError(f"an action item needs a title of 1 to {MAX_TITLE_LENGTH} characters")
    return title


def arm_reminder(session: Session, item: ActionItem, config: OpsbookConfig, now: datetime) -> None:
    """Schedule the next reminder of the item's current generation, if it needs one."""
    deadline = overdue_from(item, config)
    if deadline is None or item.status not in ACTION_ITEM_OPEN:
        return
    every = config.postmortems.action_items.remind_every
    if item.reminders_sent and every is None:
        return
    run_at = deadline + (every or timedelta(0)) * item.reminders_sent
    jobs.schedule(
        session,
        kind=REMINDER_KIND,
        key=reminder_key(item),
        run_at=max(now, run_at),
        now=now,
        payload={"action_item_id": item.id, "generation": item.reminder_generation},
    )


def _disarm(session: Session, item: ActionItem, now: datetime) -> None:
    jobs.cancel(session, key=reminder_key(item), now=now)
    item.reminder_generation += 1
    item.reminders_sent = 0


def add_action_item(
    session: Session,
    *,
    config: OpsbookConfig,
    postmortem_id: int,
    title: str,
    owner: str,
    due_on: date,
    by: str,
    now: datetime,
) -> ActionItem:
    postmortem = session.get(Postmortem, postmortem_id)
    if postmortem is None:
        raise PostmortemNotFound(f"no postmortem with id {postmortem_id}")
    if postmortem.status == "closed":
        raise PostmortemError("the postmortem is closed; it takes no new action items")
    _check_owner(config, owner)
    item = ActionItem(
        postmortem_id=postmortem.id,
        incident_id=postmortem.incident_id,
        title=_check_title(title),
        owner=owner,
        due_on=due_on,
        status="open",
        created_by=by,
        created_at=now,
        updated_by=by,
        updated_at=now,
        reminder_generation=0,
        reminders_sent=0,
    )
    session.add(item)
    session.flush()
    arm_reminder(session, item, config, now)
    append_event(
        session,
        incident=load(session, postmortem.incident_id),
        kind="action_item_added",
        actor=by,
        at=now,
        body=f"Action item {item.id}: {item.title} (owner {owner}, due {due_on.isoformat()})",
        data={"action_item_id": item.id, "owner": owner, "due_on": due_on.isoformat()},
    )
    return item


def change_action_item(
    session: Session,
    *,
    config: OpsbookConfig,
    item_id: int,
    by: str,
    now: datetime,
    title: str | None = None,
    owner: str | None = None,
    due_on: date | None = None,
    status: str | None = None,
) -> ActionItem:
    """Change what is given (None keeps it); a new due date, owner or status re-arms reminders."""
    item = get_action_item(session, item_id=item_id)
    changes: dict[str, str] = {}
    if title is not None and (new_title := _check_title(title)) != item.title:
        changes["title"] = new_title
    if owner is not None and owner != item.owner:
        _check_owner(config, owner)
        changes["owner"] = owner
    if due_on is not None and due_on != item.due_on:
        changes["due_on"] = due_on.isoformat()
    if status is not None and status != item.status:
        if status not in ACTION_ITEM_STATUSES:
            raise PostmortemError(
                f"unknown action item status {status!r}; expected one of "
                f"{', '.join(ACTION_ITEM_STATUSES)}"
            )
        if status not in ACTION_ITEM_TRANSITIONS[item.status]:  # type: ignore[index]
            raise PostmortemError(
                describe_refusal("action item", ACTION_ITEM_TRANSITIONS, item.status, status)
            )
        changes["status"] = status
    if not changes:
        return item
    if {"owner", "due_on", "status"} & changes.keys():
        _disarm(session, item, now)
    item.title = changes.get("title", item.title)
    item.owner = changes.get("owner", item.owner)
    if due_on is not None:
        item.due_on = due_on
    if status is not None:
        item.status = status
        item.done_at = now if status == "done" else None
    item.updated_by, item.updated_at = by, now
    with guarded(f"action item {item.id}"):
        session.flush()
    arm_reminder(session, item, config, now)
    append_event(
        session,
        incident=load(session, item.incident_id),
        kind="action_item_changed",
        actor=by,
        at=now,
        body=f"Action item {item.id}: "
        + ", ".join(f"{key} {value}" for key, value in changes.items()),
        data={"action_item_id": item.id, **changes},
    )
    return item


def get_action_item(session: Session, *, item_id: int) -> ActionItem:
    item = session.get(ActionItem, item_id)
    if item is None:
        raise PostmortemNotFound(f"no action item {item_id}")
    return item


def action_items_of(session: Session, *, postmortem_id: int) -> list[ActionItem]:
    stmt = select(ActionItem).where(ActionItem.postmortem_id == postmortem_id)
    return list(session.scalars(stmt.order_by(ActionItem.id)))


def list_action_items(
    session: Session,
    *,
    config: OpsbookConfig,
    now: datetime,
    status: Sequence[str] | None = None,
    owner: str | None = None,
    overdue: bool = False,
    limit: int = 500,
) -> list[ActionItem]:
    """Action items across incidents, soonest due first; ``overdue`` keeps the late ones."""
    stmt = select(ActionItem).order_by(ActionItem.due_on, ActionItem.id).limit(limit)
    if status:
        stmt = stmt.where(ActionItem.status.in_(list(status)))
    if owner is not None:
        stmt = stmt.where(ActionItem.owner == owner)
    if overdue:
        # Every time zone's "tomorrow" has begun by then: a cheap bound before the exact test.
        latest = (now + timedelta(days=1)).date()
        stmt = stmt.where(
            ActionItem.status.in_(sorted(ACTION_ITEM_OPEN)), ActionItem.due_on <= latest
        )
    items = list(session.scalars(stmt))
    return [item for item in items if is_overdue(item, config, now)] if overdue else items
