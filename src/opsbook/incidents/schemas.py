"""JSON shapes of the incidents API.

Names that have a fixed set of values (status, severity, role) are typed as literals,
so a misspelt one is a 422 from validation, before the domain sees it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from opsbook.config.defaults import Severity
from opsbook.incidents import service
from opsbook.incidents.models import Incident
from opsbook.incidents.state import Status

Role = Literal["commander", "communications", "scribe", "responder"]


class IncidentOpen(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    severity: Severity
    service: str | None = None
    summary: str = ""
    components: list[str] = []
    users_affected: int | None = Field(None, ge=0)


class StatusChange(BaseModel):
    to: Status
    reason: str = ""


class SeverityChange(BaseModel):
    severity: Severity
    reason: str = ""


class RoleChange(BaseModel):
    role: Role
    person: str = Field(min_length=1, max_length=100)


class NoteIn(BaseModel):
    markdown: str = Field(min_length=1)
    corrects: int | None = None


class OutputIn(BaseModel):
    text: str
    label: str = Field(min_length=1, max_length=200)


class ChecklistTickIn(BaseModel):
    item: int | str = Field(description="1-based position, or the item's text")


class ImpactIn(BaseModel):
    components: list[str] | None = None
    users_affected: int | None = Field(None, ge=0)


class ReasonIn(BaseModel):
    reason: str = ""


class MergeIn(BaseModel):
    into: int = Field(description="The number of the incident to keep")
    reason: str = ""


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    title: str
    service: str | None
    severity: str
    status: str
    summary: str
    channel_name: str
    components: list[str]
    users_affected: int | None
    source: str | None
    created_by: str
    created_at: datetime
    triggered_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    breached_at: datetime | None
    merged_into: int | None = None
    version: int


class RoleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: str
    person: str
    assigned_at: datetime
    assigned_by: str


class ChecklistItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    item: str
    done_at: datetime | None
    done_by: str | None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alert_key: str
    source: str
    attached_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor: str
    body: str
    data: dict[str, Any]


class IncidentDetail(IncidentOut):
    roles: list[RoleOut]
    checklist: list[ChecklistItemOut]
    alerts: list[AlertOut]


class TickOut(BaseModel):
    position: int
    item: str
    done_at: datetime
    done_by: str
    changed: bool
    message: str


def incident_out(session: Session, incident: Incident) -> IncidentOut:
    out = IncidentOut.model_validate(incident)
    if incident.merged_into_id is not None:
        out.merged_into = service.get_incident(session, incident_id=incident.merged_into_id).number
    return out


def incident_detail(session: Session, incident: Incident) -> IncidentDetail:
    """The incident with its roles, checklist and alerts, as the API and ``--json`` show it."""
    return IncidentDetail(
        **incident_out(session, incident).model_dump(),
        roles=[RoleOut.model_validate(r) for r in service.roles(session, incident_id=incident.id)],
        checklist=[
            ChecklistItemOut.model_validate(item)
            for item in service.checklist(session, incident_id=incident.id)
        ],
        alerts=[
            AlertOut.model_validate(a) for a in service.alerts(session, incident_id=incident.id)
        ],
    )
