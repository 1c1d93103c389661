"""JSON shapes of the platform's own API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opsbook.core.auth import Role


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class JobOut(_Out):
    id: int
    kind: str
    key: str
    status: str
    run_at: datetime
    attempts: int
    max_attempts: int
    last_error: str | None
    lease_owner: str | None
    created_at: datetime
    finished_at: datetime | None


class NotificationOut(_Out):
    id: int
    channel: str
    kind: str
    target: str | None
    idempotency_key: str
    source: str | None
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class TokenOut(_Out):
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token. Shown once; only its hash is stored.")


class AuditOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    remote_addr: str | None
    status_code: int | None
    details: dict[str, Any]


class WhoAmI(BaseModel):
    kind: str
    name: str
    role: str
    person_id: str | None
