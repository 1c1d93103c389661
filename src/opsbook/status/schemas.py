"""JSON shapes of the status API (``/api/v1/status``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from opsbook.status.config import ComponentStatus, PublicStatus


class PublicUpdateIn(BaseModel):
    """A public update posted from an internal incident."""

    status: PublicStatus
    message: str | None = Field(
        None, description="What customers read; default: status_page.wording for the status"
    )
    components: dict[str, ComponentStatus] | None = Field(
        None, description="component id or name -> status; default: the incident's components"
    )
    name: str | None = Field(None, description="The public title (first update only)")
    notify: bool = True


class UpdateOut(BaseModel):
    id: str
    status: str
    body: str
    components: dict[str, str]
    created_at: datetime
    created_by: str


class PublicIncidentOut(BaseModel):
    id: str
    name: str
    status: str
    impact: str
    incident_id: int | None
    components: list[str]
    published_at: datetime | None
    resolved_at: datetime | None
    updates: list[UpdateOut]


class ComponentOut(BaseModel):
    id: str
    name: str
    group: str | None
    status: str
    source: str
    uptime_90d: float | None


class OverrideIn(BaseModel):
    status: ComponentStatus
    reason: str = ""
    expires_at: datetime | None = None


class MaintenanceIn(BaseModel):
    name: str
    scheduled_for: datetime
    scheduled_until: datetime
    components: list[str] = []
    message: str = "We will be performing scheduled maintenance."


class MaintenanceOut(BaseModel):
    id: str
    name: str
    status: str
    scheduled_for: datetime
    scheduled_until: datetime
    components: list[str]


class WebhookSubscriberIn(BaseModel):
    url: str
    components: list[str] = []


class SubscriberOut(BaseModel):
    id: int
    kind: str
    address: str
    components: list[str] | None
    state: str
    created_at: datetime
    confirmed_at: datetime | None


class WebhookSubscriberCreated(SubscriberOut):
    secret: str = Field(description="Signs every delivery (Opsbook-Signature); shown once")


class TemplatesOut(BaseModel):
    title: str
    investigating: str
    identified: str
    monitoring: str
    resolved: str
    postmortem: str
