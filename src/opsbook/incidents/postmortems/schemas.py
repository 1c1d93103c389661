"""JSON shapes of postmortems and action items: the API, ``--json`` and the JSON export."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.incidents.models import Incident
from opsbook.incidents.postmortems import service
from opsbook.incidents.postmortems.action_items import action_items_of, is_overdue
from opsbook.incidents.postmortems.models import ActionItem, Postmortem
from opsbook.incidents.postmortems.state import ActionItemStatus, PostmortemStatus

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig


class SectionIn(BaseModel):
    markdown: str = Field(max_length=service.MAX_SECTION_CHARS)


class PostmortemStatusIn(BaseModel):
    to: PostmortemStatus


class ActionItemIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    owner: str = Field(min_length=1, max_length=100, description="A person id from people:")
    due_on: date


class ActionItemChange(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=300)
    owner: str | None = Field(None, min_length=1, max_length=100)
    due_on: date | None = None
    status: ActionItemStatus | None = None


class SectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    position: int
    markdown: str = Field(validation_alias="body")
    prompt_only: bool
    edited_at: datetime | None
    edited_by: str | None
    version: int


class ActionItemOut(BaseModel):
    id: int
    incident: int = Field(description="The incident's number")
    title: str
    owner: str | None
    due_on: date | None
    status: str
    overdue: bool
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    done_at: datetime | None
    reminders_sent: int


class PostmortemOut(BaseModel):
    incident: int = Field(description="The incident's number")
    title: str
    status: str
    severity: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    overdue: bool
    overdue_at: datetime | None
    version: int


class PostmortemDetail(PostmortemOut):
    sections: list[SectionOut]
    action_items: list[ActionItemOut]


def action_item_out(
    item: ActionItem, *, number: int, config: OpsbookConfig, now: datetime
) -> ActionItemOut:
    return ActionItemOut(
        id=item.id,
        incident=number,
        title=item.title,
        owner=item.owner,
        due_on=item.due_on,
        status=item.status,
        overdue=is_overdue(item, config, now),
        created_by=item.created_by,
        created_at=item.created_at,
        updated_by=item.updated_by,
        updated_at=item.updated_at,
        done_at=item.done_at,
        reminders_sent=item.reminders_sent,
    )


def action_items_out(
    session: Session, items: list[ActionItem], *, config: OpsbookConfig, now: datetime
) -> list[ActionItemOut]:
    ids = {item.incident_id for item in items}
    rows = session.execute(select(Incident.id, Incident.number).where(Incident.id.in_(ids)))
    numbers = {incident_id: number for incident_id, number in rows}
    return [
        action_item_out(item, number=numbers[item.incident_id], config=config, now=now)
        for item in items
    ]


def postmortem_out(
    postmortem: Postmortem, incident: Incident, *, config: OpsbookConfig, now: datetime
) -> PostmortemOut:
    deadline = service.deadline_of(incident, postmortem, config=config, now=now)
    return PostmortemOut(
        incident=incident.number,
        title=postmortem.title,
        status=postmortem.status,
        severity=incident.severity,
        created_by=postmortem.created_by,
        created_at=postmortem.created_at,
        updated_at=postmortem.updated_at,
        published_at=postmortem.published_at,
        closed_at=postmortem.closed_at,
        due_at=deadline.due_at,
        overdue=deadline.overdue,
        overdue_at=postmortem.overdue_at,
        version=postmortem.version,
    )


def postmortem_detail(
    session: Session, postmortem: Postmortem, *, config: OpsbookConfig, now: datetime
) -> PostmortemDetail:
    incident = session.get_one(Incident, postmortem.incident_id)
    return PostmortemDetail(
        **postmortem_out(postmortem, incident, config=config, now=now).model_dump(),
        sections=[
            SectionOut.model_validate(s)
            for s in service.sections(session, postmortem_id=postmortem.id)
        ],
        action_items=[
            action_item_out(item, number=incident.number, config=config, now=now)
            for item in action_items_of(session, postmortem_id=postmortem.id)
        ],
    )
