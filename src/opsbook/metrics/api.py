"""HTTP endpoints of the metrics store: push samples, see how scrape targets are doing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from starlette.requests import Request

from opsbook.core.security import responder, viewer
from opsbook.metrics.models import ScrapeTargetState
from opsbook.metrics.schemas import MetricsBatch, MetricsStored, ScrapeTargetOut
from opsbook.metrics.store import (
    Sample,
    SampleError,
    SeriesCache,
    fingerprint,
    validate,
    write_samples,
)

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["metrics"])


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _cache(request: Request) -> SeriesCache:
    # One cache per app: its series ids belong to this app's database.
    cache = getattr(request.app.state, "metric_series_cache", None)
    if cache is None:
        cache = request.app.state.metric_series_cache = SeriesCache()
    return cache


@router.post("/metrics", response_model=MetricsStored, dependencies=[responder])
def push_metrics(request: Request, batch: MetricsBatch) -> MetricsStored:
    """Store a batch of samples (at most 10,000); all of them or, on any mistake, none.

    Needs a responder token (create one per pushing service: ``opsbook token create
    app-metrics --role responder``).  Timestamps from 1 hour ago to 10 minutes ahead
    are accepted; none means now.
    """
    runtime = _runtime(request)
    now = runtime.clock.now()
    samples = []
    for index, item in enumerate(batch.samples):
        sample = Sample(item.name, item.labels, item.value, item.timestamp or now)
        try:
            validate(sample, now=now)
        except SampleError as exc:
            raise HTTPException(400, f"samples[{index}]: {exc}") from None
        samples.append(sample)
    with runtime.db.session() as session, session.begin():
        stored = write_samples(session, samples=samples, now=now, cache=_cache(request))
    return MetricsStored(
        samples=stored, series=len({fingerprint(s.name, s.labels) for s in samples})
    )


@router.get("/metrics/targets", response_model=list[ScrapeTargetOut], dependencies=[viewer])
def scrape_targets(request: Request) -> list[ScrapeTargetOut]:
    """Every ``metrics.scrape`` target and how its last scrape went."""
    runtime = _runtime(request)
    with runtime.db.read_session() as session:
        states = {row.target: row for row in session.scalars(select(ScrapeTargetState))}
    out = []
    for target in runtime.config.metrics.scrape:
        state = states.get(target.name)
        out.append(
            ScrapeTargetOut(
                name=target.name,
                url=target.url,
                every_seconds=target.every.total_seconds(),
                up=state.up if state else None,
                last_scrape_at=state.last_scrape_at if state else None,
                last_duration_ms=state.last_duration_ms if state else None,
                last_samples=state.last_samples if state else None,
                last_error=state.last_error if state else None,
            )
        )
    return out
