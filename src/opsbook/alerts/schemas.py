"""Pydantic in/out models of ``/api/v1/alerts`` and ``/api/v1/silences``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from opsbook.alerts import silences as silencing
from opsbook.alerts.models import Silence
from opsbook.alerts.service import AlertView


class AlertOut(BaseModel):
    id: int
    fingerprint: str
    status: str = Field(description="firing or resolved")
    state: str = Field(description="active, suppressed (silenced or inhibited) or resolved")
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime
    received_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    generator_url: str
    silenced_by: list[str]
    inhibited_by: list[str]
    receivers: list[str]
    refreshes: int
    incident_key: str | None
    extra: dict[str, Any] | None = None


def alert_out(view: AlertView) -> AlertOut:
    return AlertOut(
        id=view.id,
        fingerprint=view.fingerprint,
        status=view.status,
        state=view.state,
        source=view.source,
        labels=view.labels,
        annotations=view.annotations,
        starts_at=view.starts_at,
        ends_at=view.ends_at,
        updated_at=view.updated_at,
        received_at=view.received_at,
        resolved_at=view.resolved_at,
        acknowledged_at=view.acknowledged_at,
        generator_url=view.generator_url,
        silenced_by=list(view.mute.silenced_by),
        inhibited_by=list(view.mute.inhibited_by),
        receivers=list(view.receivers),
        refreshes=view.refreshes,
        incident_key=view.incident_key,
        extra=view.extra,
    )


class AlertIn(BaseModel):
    """An alert raised by a person (or a script): labels identify it."""

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = {}
    starts_at: datetime | None = None
    ends_at: datetime | None = Field(
        default=None, description="unset: firing until resolved; in the past: resolved"
    )
    generator_url: str = ""


class ReceivedOut(BaseModel):
    new: int
    refreshed: int
    resolved: int
    unknown: int
    fingerprints: list[str]


class SilenceIn(BaseModel):
    matchers: list[str] = Field(
        min_length=1, description='Alertmanager matchers: ["alertname=\\"DiskFull\\"", ...]'
    )
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime | None = None
    duration: str | None = Field(default=None, description="instead of ends_at: 2h, 30m, 1d")
    comment: str = Field(min_length=1)
    created_by: str | None = Field(default=None, description="default: the caller")


class SilenceOut(BaseModel):
    id: str
    state: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    updated_at: datetime


def silence_out(silence: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=silence.id,
        state=silencing.state(silence, now),
        matchers=[str(m) for m in silencing.matchers_of(silence)],
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        created_at=silence.created_at,
        updated_at=silence.updated_at,
    )


MAX_SILENCE = timedelta(days=365)
