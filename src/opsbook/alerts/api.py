"""Opsbook's own alert endpoints: ``/api/v1/alerts`` and ``/api/v1/silences``.

Reads need the viewer role, raising an alert or changing a silence the responder role.
The Alertmanager-compatible endpoints are in :mod:`opsbook.alerts.amapi` and
:mod:`opsbook.alerts.intake.http`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from opsbook.alerts import service
from opsbook.alerts import silences as silencing
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.labels import fingerprint, invalid_label_names
from opsbook.alerts.matchers import MatcherError, parse_all
from opsbook.alerts.schemas import (
    MAX_SILENCE,
    AlertIn,
    AlertOut,
    ReceivedOut,
    SilenceIn,
    SilenceOut,
    alert_out,
    silence_out,
)
from opsbook.config.values import parse_duration
from opsbook.core.auth import Principal
from opsbook.core.security import require, viewer

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["alerts"])
_responder = require("responder")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/alerts", response_model=list[AlertOut], dependencies=[viewer])
def list_alerts(
    request: Request,
    state: service.State = "firing",
    filter: list[str] = Query(default=[], description='matchers, e.g. service=~"api|web"'),
    limit: int = Query(500, ge=1, le=5000),
) -> list[AlertOut]:
    """Alerts, newest first; each with its fingerprint, receivers and mute state."""
    runtime = _runtime(request)
    try:
        matchers = parse_all(filter)
    except MatcherError as exc:
        raise HTTPException(422, str(exc)) from None
    with runtime.db.read_session() as session:
        views = service.list_alerts(
            session,
            config=runtime.config,
            now=runtime.clock.now(),
            state=state,
            matchers=matchers,
            limit=limit,
        )
    return [alert_out(view) for view in views]


@router.get("/alerts/{alert_id}", response_model=AlertOut, dependencies=[viewer])
def get_alert(request: Request, alert_id: int) -> AlertOut:
    runtime = _runtime(request)
    try:
        with runtime.db.read_session() as session:
            view = service.get_alert(
                session, config=runtime.config, alert_id=alert_id, now=runtime.clock.now()
            )
    except service.AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return alert_out(view)


@router.post("/alerts", response_model=ReceivedOut, status_code=202)
def raise_alert(
    request: Request, body: AlertIn, principal: Principal = Depends(_responder)
) -> ReceivedOut:
    """Raise (or, with ``ends_at`` in the past, resolve) an alert by hand."""
    bad = invalid_label_names(body.labels) or invalid_label_names(body.annotations)
    if bad:
        raise HTTPException(422, f"invalid label or annotation name {bad[0]!r}")
    for value in (body.starts_at, body.ends_at):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, "times need a zone, e.g. 2026-11-22T09:00:00Z")
    runtime = _runtime(request)
    alert = AlertInput(
        labels=body.labels,
        annotations={**body.annotations, "raised_by": principal.actor},
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        generator_url=body.generator_url,
        source="manual",
    )
    with runtime.db.session() as session, session.begin():
        result = service.receive(
            session, config=runtime.config, alerts=[alert], now=runtime.clock.now()
        )
    return ReceivedOut(
        new=result.new,
        refreshed=result.refreshed,
        resolved=result.resolved,
        unknown=result.unknown,
        fingerprints=[fingerprint(body.labels)],
    )


@router.get("/silences", response_model=list[SilenceOut], dependencies=[viewer])
def list_silences(
    request: Request, expired: bool = Query(True, description="include recently expired")
) -> list[SilenceOut]:
    """Active silences first (soonest to end first), then pending, then expired."""
    runtime = _runtime(request)
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        found = silencing.list_silences(session, now=now, include_expired=expired)
        return [silence_out(s, now) for s in found]


@router.get("/silences/{silence_id}", response_model=SilenceOut, dependencies=[viewer])
def get_silence(request: Request, silence_id: str) -> SilenceOut:
    runtime = _runtime(request)
    try:
        with runtime.db.read_session() as session:
            return silence_out(silencing.get(session, silence_id=silence_id), runtime.clock.now())
    except silencing.SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/silences", response_model=SilenceOut, status_code=201)
def create_silence(
    request: Request, body: SilenceIn, principal: Principal = Depends(_responder)
) -> SilenceOut:
    runtime = _runtime(request)
    now = runtime.clock.now()
    try:
        matchers = parse_all(body.matchers)
        starts_at = body.starts_at or now
        if body.ends_at is not None and body.duration is not None:
            raise ValueError("give ends_at or duration, not both")
        if body.duration is not None:
            ends_at = starts_at + parse_duration(body.duration)
        elif body.ends_at is not None:
            ends_at = body.ends_at
        else:
            raise ValueError("give ends_at or duration")
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise ValueError("times need a zone, e.g. 2026-11-22T09:00:00Z")
        if ends_at - starts_at > MAX_SILENCE:
            raise ValueError("a silence may last at most 365 days")
        with runtime.db.session() as session, session.begin():
            change = silencing.save(
                session,
                matchers=matchers,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=body.created_by or principal.person_id or principal.actor,
                comment=body.comment,
                now=now,
            )
            return silence_out(change.silence, now)
    except (ValueError, MatcherError) as exc:  # SilenceError is a ValueError
        raise HTTPException(422, str(exc)) from None


@router.delete("/silences/{silence_id}", response_model=SilenceOut)
def expire_silence(
    request: Request, silence_id: str, principal: Principal = Depends(_responder)
) -> SilenceOut:
    """End a silence now (it stays listed, expired)."""
    runtime = _runtime(request)
    now = runtime.clock.now()
    try:
        with runtime.db.session() as session, session.begin():
            return silence_out(silencing.expire(session, silence_id=silence_id, now=now), now)
    except silencing.SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from None
