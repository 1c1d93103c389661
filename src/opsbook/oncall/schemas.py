"""JSON shapes of the on-call API (and of ``opsbook oncall ... --json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from opsbook.config.schema import OpsbookConfig
from opsbook.config.values import format_duration
from opsbook.oncall.config import PolicyConfig
from opsbook.oncall.service import LayerShifts
from opsbook.oncall.shifts import Shift


class ShiftOut(BaseModel):
    schedule: str
    layer: str
    person: str | None = Field(description="None: a gap, no one is on call")
    person_name: str | None
    start: datetime
    end: datetime
    source: str = Field(description='"rotation:NAME", "override:ID" or "gap"')


class LayerShiftsOut(BaseModel):
    schedule: str
    layer: str
    timezone: str
    coverage_percent: float
    gaps: int
    shifts: list[ShiftOut]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedule: str
    layer: str = "primary"
    person: str
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field("", max_length=500)


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    schedule: str
    layer: str
    person: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime


class LevelOut(BaseModel):
    targets: list[str]
    escalate_after: str
    team: str


class PolicyOut(BaseModel):
    name: str
    description: str
    repeat: int
    levels: list[LevelOut]


class EscalationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    policy: str
    schedule: str
    status: str
    run: int
    pass_number: int
    level: int
    next_step_at: datetime | None
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    repairs: int
    snapshot: dict[str, Any]


class FeedOut(BaseModel):
    scope: str
    name: str
    url: str


def shift_out(shift: Shift, config: OpsbookConfig) -> ShiftOut:
    person = config.find_person(shift.person) if shift.person else None
    return ShiftOut(
        schedule=shift.schedule,
        layer=shift.layer,
        person=shift.person,
        person_name=person.name if person else None,
        start=shift.start,
        end=shift.end,
        source=shift.source,
    )


def layer_out(layer: LayerShifts, config: OpsbookConfig) -> LayerShiftsOut:
    return LayerShiftsOut(
        schedule=layer.schedule,
        layer=layer.layer,
        timezone=layer.timezone,
        coverage_percent=round(layer.coverage * 100, 2),
        gaps=len(layer.gaps),
        shifts=[shift_out(s, config) for s in layer.shifts],
    )


def policy_out(policy: PolicyConfig) -> PolicyOut:
    return PolicyOut(
        name=policy.name,
        description=policy.description,
        repeat=policy.repeat,
        levels=[
            LevelOut(
                targets=[str(t) for t in level.targets],
                escalate_after=format_duration(level.escalate_after),
                team=level.team,
            )
            for level in policy.levels
        ],
    )
