"""JSON shapes of the metrics API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_BATCH = 10_000


class SampleIn(BaseModel):
    """One sample: ``timestamp`` is RFC 3339 with a zone, or Unix seconds; default now."""

    model_config = ConfigDict(extra="forbid")

    name: str
    labels: dict[str, str] = {}
    value: float = Field(allow_inf_nan=False)
    timestamp: datetime | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, (bool, str)):
            raise ValueError("value must be a JSON number")
        return value

    @field_validator("timestamp")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp needs a zone, e.g. 2026-01-05T09:00:00Z")
        return value


class MetricsBatch(BaseModel):
    """``{"samples": [{"name": "http_requests_total", "labels": {...}, "value": 12}]}``."""

    model_config = ConfigDict(extra="forbid")

    samples: list[SampleIn] = Field(min_length=1, max_length=MAX_BATCH)


class MetricsStored(BaseModel):
    status: str = "ok"
    samples: int
    series: int


class ScrapeTargetOut(BaseModel):
    name: str
    url: str
    every_seconds: float
    up: bool | None
    last_scrape_at: datetime | None
    last_duration_ms: float | None
    last_samples: int | None
    last_error: str | None
