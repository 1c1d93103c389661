"""Postmortems: drafted from the incident's record, written section by section, published.

Keyword-only functions; the session is passed in and the caller owns the transaction.
Action items are in :mod:`opsbook.incidents.postmortems.action_items`.

>>> with transaction(db.session) as session:
...     postmortem = draft_postmortem(session, config=config, incident_id=incident.id,
...                                   by="person:alice", now=clock.now())
...     write_section(session, postmortem_id=postmortem.id, key="root_cause",
...                   markdown="The pool was too small.", by="person:alice", now=clock.now())
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from opsbook.config.values import Target
from opsbook.incidents.errors import IncidentError, IncidentNotFound
from opsbook.incidents.lifecycle import load
from opsbook.incidents.models import Incident
from opsbook.incidents.postmortems import deadline
from opsbook.incidents.postmortems.models import ActionItem, Postmortem, PostmortemSection
from opsbook.incidents.postmortems.state import (
    ACTION_ITEM_OPEN,
    EDITABLE,
    POSTMORTEM_STATUSES,
    POSTMORTEM_TRANSITIONS,
    describe_refusal,
)
from opsbook.incidents.postmortems.template import SECTION_KEYS, Record, draft_sections
from opsbook.incidents.service import roles
from opsbook.incidents.targets import ack_target
from opsbook.incidents.timeline import append_event, events, redact_incident_text

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig
    from opsbook.incidents.config import PostmortemSettings

MAX_SECTION_CHARS: Final = 100_000
_INCIDENTS_CHANNEL: Final = Target("channel", "incidents")


class PostmortemError(IncidentError):
    """A postmortem change the postmortem's state or the input does not allow (409)."""


class PostmortemNotFound(IncidentNotFound):
    pass


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """A concurrent change to the same row is a refusal to retry, not a lost update."""
    try:
        yield
    except StaleDataError:
        raise PostmortemError(
            f"{what} was changed by someone else since you read it; reload it and try again"
        ) from None


def reminder_targets(config: OpsbookConfig) -> list[Target]:
    """Whom reminders reach: ``postmortems.remind``, else ``channel:incidents`` if defined."""
    if config.postmortems.remind is not None:
        return list(config.postmortems.remind)
    return [_INCIDENTS_CHANNEL] if config.find_channel(_INCIDENTS_CHANNEL.name) else []


def due_at(incident: Incident, policy: PostmortemSettings) -> datetime | None:
    """When the incident's postmortem is due, or None when its severity needs none."""
    if incident.resolved_at is None or incident.merged_into_id is not None:
        return None
    if incident.severity not in policy.required_for:
        return None
    return incident.resolved_at + policy.due_after


@dataclass(frozen=True, slots=True)
class Deadline:
    """The postmortem's due time and whether it has passed unpublished."""

    due_at: datetime | None
    overdue: bool


def deadline_of(
    incident: Incident, postmortem: Postmortem | None, *, config: OpsbookConfig, now: datetime
) -> Deadline:
    due = due_at(incident, config.postmortems)
    published = postmortem is not None and postmortem.published_at is not None
    return Deadline(due, due is not None and now >= due and not published)


def find_postmortem(session: Session, *, incident_id: int) -> Postmortem | None:
    return session.scalar(select(Postmortem).where(Postmortem.incident_id == incident_id))


def get_postmortem(session: Session, *, incident_id: int) -> Postmortem:
    postmortem = find_postmortem(session, incident_id=incident_id)
    if postmortem is None:
        number = load(session, incident_id).number
        raise PostmortemNotFound(
            f"incident #{number} has no postmortem yet; draft one with "
            f"`opsbook postmortem draft {number}`"
        )
    return postmortem


def sections(session: Session, *, postmortem_id: int) -> list[PostmortemSection]:
    stmt = select(PostmortemSection).where(PostmortemSection.postmortem_id == postmortem_id)
    return list(session.scalars(stmt.order_by(PostmortemSection.position)))


def draft_postmortem(
    session: Session, *, config: OpsbookConfig, incident_id: int, by: str, now: datetime
) -> Postmortem:
    """Create the incident's postmortem, its sections filled in from the record."""
    incident = load(session, incident_id)
    if incident.merged_into_id is not None:
        into = load(session, incident.merged_into_id).number
        raise PostmortemError(
            f"incident #{incident.number} was merged into #{into}; draft the postmortem there"
        )
    if incident.is_open:
        raise PostmortemError(
            f"incident #{incident.number} is {incident.status}; a postmortem is drafted once "
            "it is resolved"
        )
    if find_postmortem(session, incident_id=incident_id) is not None:
        raise PostmortemError(f"incident #{incident.number} already has a postmortem")
    level = config.severities[incident.severity]  # type: ignore[index]
    record = Record(
        incident=incident,
        events=events(session, incident_id=incident_id),
        roles=roles(session, incident_id=incident_id),
        meaning=level.meaning,
        response_target=ack_target(level),
        timezone=config.service.timezone,
    )
    postmortem = Postmortem(
        incident_id=incident.id,
        title=f"#{incident.number} {incident.title}",
        status="draft",
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(postmortem)
    session.flush()
    for position, section in enumerate(draft_sections(record), start=1):
        session.add(
            PostmortemSection(
                postmortem_id=postmortem.id,
                position=position,
                key=section.key,
                title=section.title,
                body=redact_incident_text(section.body),
                prompt_only=section.prompt_only,
            )
        )
    append_event(
        session,
        incident=incident,
        kind="postmortem_drafted",
        actor=by,
        at=now,
        body="Postmortem drafted from the record",
        data={"postmortem_id": postmortem.id},
    )
    session.flush()
    return postmortem


def write_section(
    session: Session,
    *,
    postmortem_id: int,
    key: str,
    markdown: str,
    by: str,
    now: datetime,
    expected_version: int | None = None,
) -> PostmortemSection:
    """Replace one section's text (markdown); secrets are masked before it is stored."""
    postmortem = _load(session, postmortem_id)
    if key not in SECTION_KEYS:
        raise PostmortemError(f"unknown section {key!r}; expected one of {', '.join(SECTION_KEYS)}")
    if postmortem.status not in EDITABLE:
        raise PostmortemError(
            f"the postmortem is {postmortem.status}; move it back to draft to edit it"
        )
    if len(markdown) > MAX_SECTION_CHARS:
        raise PostmortemError(f"a section holds at most {MAX_SECTION_CHARS:,} characters")
    section = next(s for s in sections(session, postmortem_id=postmortem_id) if s.key == key)
    if expected_version is not None and section.version != expected_version:
        raise PostmortemError(
            f"the {section.title} section was changed by someone else since you read version "
            f"{expected_version} (now at {section.version}); reload it and try again"
        )
    section.body = redact_incident_text(markdown)
    section.edited_at, section.edited_by = now, by
    with guarded(f"the {section.title} section"):
        session.flush()
    return section


def set_postmortem_status(
    session: Session, *, postmortem_id: int, to: str, by: str, now: datetime
) -> Postmortem:
    """Move the postmortem as :data:`~.state.POSTMORTEM_TRANSITIONS` allows.

    Publishing needs every section the draft left as questions only to be written;
    closing needs every action item done or cancelled.
    """
    if to not in POSTMORTEM_STATUSES:
        raise PostmortemError(
            f"unknown postmortem status {to!r}; expected one of {', '.join(POSTMORTEM_STATUSES)}"
        )
    postmortem = _load(session, postmortem_id)
    current = postmortem.status
    if to == current:
        return postmortem
    if to not in POSTMORTEM_TRANSITIONS[current]:  # type: ignore[index]
        raise PostmortemError(describe_refusal("postmortem", POSTMORTEM_TRANSITIONS, current, to))
    incident = load(session, postmortem.incident_id)
    if to == "published":
        unwritten = [
            s.title
            for s in sections(session, postmortem_id=postmortem_id)
            if s.prompt_only and s.edited_at is None
        ]
        if unwritten:
            raise PostmortemError(
                "publishing needs these sections written (they hold only the template's "
                f"questions): {', '.join(unwritten)}"
            )
        if postmortem.published_at is None:
            postmortem.published_at = now
            deadline.stop(session, incident=incident, now=now)
    if to == "closed":
        still_open = open_action_items(session, postmortem_id=postmortem_id)
        if still_open:
            names = "; ".join(f"{item.id}. {item.title}" for item in still_open)
            raise PostmortemError(
                f"closing needs every action item done or cancelled; still open: {names}"
            )
        postmortem.closed_at = now
    postmortem.status = to
    postmortem.updated_at = now
    append_event(
        session,
        incident=incident,
        kind="postmortem_status_changed",
        actor=by,
        at=now,
        body=f"Postmortem {current} → {to}",
        data={"postmortem_id": postmortem.id, "from": current, "to": to},
    )
    with guarded("the postmortem"):
        session.flush()
    return postmortem


def open_action_items(session: Session, *, postmortem_id: int) -> list[ActionItem]:
    stmt = select(ActionItem).where(
        ActionItem.postmortem_id == postmortem_id, ActionItem.status.in_(sorted(ACTION_ITEM_OPEN))
    )
    return list(session.scalars(stmt.order_by(ActionItem.id)))


def list_postmortems(
    session: Session, *, status: str | None = None, limit: int = 100
) -> list[tuple[Postmortem, Incident]]:
    """Postmortems with their incidents, newest incident first."""
    stmt = (
        select(Postmortem, Incident)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .order_by(Incident.number.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(Postmortem.status == status)
    return [(row[0], row[1]) for row in session.execute(stmt)]


def _load(session: Session, postmortem_id: int) -> Postmortem:
    postmortem = session.get(Postmortem, postmortem_id)
    if postmortem is None:
        raise PostmortemNotFound(f"no postmortem with id {postmortem_id}")
    return postmortem
