"""JSON shapes of the checks API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ReasonOut(BaseModel):
    code: str
    message: str


class CheckOut(BaseModel):
    name: str
    kind: str
    description: str | None
    every_seconds: float
    component: str | None
    labels: dict[str, str]
    status: str
    since: datetime | None
    last_run_at: datetime | None
    last_ok: bool | None
    last_reason: ReasonOut | None
    last_duration_ms: float | None
    uptime_24h: float | None
    uptime_30d: float | None


class VerdictOut(BaseModel):
    condition: str
    ok: bool
    observed: Any
    message: str


class ResultOut(BaseModel):
    check: str
    kind: str
    started_at: datetime
    ok: bool
    status: str
    reason: ReasonOut | None
    timings: dict[str, float]
    observed: dict[str, Any]
    verdicts: list[VerdictOut]


class UptimeOut(BaseModel):
    check: str
    start: datetime
    end: datetime
    ratio: float | None
    down_minutes: int
    total_minutes: int
    unknown_minutes: int


class PingOut(BaseModel):
    status: str
    check: str
