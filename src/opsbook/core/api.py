"""The platform's own endpoints: health, metrics, jobs, outbox, tokens, audit, config."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from opsbook.config import ConfigError
from opsbook.core import audit, auth, health, jobs, metrics, outbox
from opsbook.core.auth import Principal
from opsbook.core.schemas import (
    AuditOut,
    JobOut,
    NotificationOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    WhoAmI,
)
from opsbook.core.security import admin, require, viewer

public = APIRouter(tags=["health"])
router = APIRouter(prefix="/api/v1", tags=["platform"])


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


@public.get("/healthz", summary="The process is alive")
def healthz(request: Request) -> dict[str, Any]:
    return health.liveness(now=_runtime(request).clock.now())


@public.get("/readyz", summary="The database answers and a worker's heartbeat is fresh")
def readyz(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    result = health.readiness(
        runtime.db, now=runtime.clock.now(), stale_after=runtime.settings.worker_stale_after
    )
    return JSONResponse(result.body, status_code=200 if result.ready else 503)


@public.get(
    "/metrics",
    response_class=PlainTextResponse,
    dependencies=[viewer],
    summary="Opsbook's own metrics (Prometheus text format)",
)
def prometheus_metrics(request: Request) -> PlainTextResponse:
    runtime = _runtime(request)
    body = metrics.render(
        runtime.db, now=runtime.clock.now(), stale_after=runtime.settings.worker_stale_after
    )
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/whoami", response_model=WhoAmI)
def whoami(principal: Principal = Depends(require("viewer"))) -> WhoAmI:
    return WhoAmI(
        kind=principal.kind, name=principal.name, role=principal.role, person_id=principal.person_id
    )


@router.get("/jobs", response_model=list[JobOut], dependencies=[viewer])
def list_jobs(
    request: Request,
    status: str | None = Query(None, pattern="^(pending|running|done|dead|cancelled)$"),
    kind: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[Any]:
    with _runtime(request).db.read_session() as session:
        return jobs.list_jobs(session, status=status, kind=kind, limit=limit)


@router.post("/jobs/{job_id}/retry", dependencies=[admin], summary="Re-run a dead job")
def retry_job(request: Request, job_id: int) -> dict[str, Any]:
    runtime = _runtime(request)
    with runtime.db.session() as session, session.begin():
        if not jobs.retry_dead(session, job_id=job_id, now=runtime.clock.now()):
            raise HTTPException(404, f"no dead job with id {job_id}")
    return {"id": job_id, "status": "pending"}


@router.get("/notifications", response_model=list[NotificationOut], dependencies=[viewer])
def list_notifications(
    request: Request,
    status: str | None = Query(None, pattern="^(pending|sending|delivered|dead)$"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[Any]:
    with _runtime(request).db.read_session() as session:
        return outbox.list_notifications(session, status=status, limit=limit)


@router.post(
    "/notifications/{notification_id}/retry",
    dependencies=[admin],
    summary="Send a dead notification again",
)
def retry_notification(request: Request, notification_id: int) -> dict[str, Any]:
    runtime = _runtime(request)
    with runtime.db.session() as session, session.begin():
        if not outbox.retry_dead(session, notification_id=notification_id, now=runtime.clock.now()):
            raise HTTPException(404, f"no dead notification with id {notification_id}")
    return {"id": notification_id, "status": "pending"}


@router.get("/tokens", response_model=list[TokenOut], dependencies=[admin])
def list_tokens(request: Request) -> list[Any]:
    with _runtime(request).db.read_session() as session:
        return auth.list_tokens(session)


@router.post("/tokens", response_model=TokenCreated, status_code=201, dependencies=[admin])
def create_token(request: Request, body: TokenCreate) -> TokenCreated:
    runtime = _runtime(request)
    try:
        with runtime.db.session() as session, session.begin():
            token, raw = auth.create_token(
                session, name=body.name, role=body.role, now=runtime.clock.now()
            )
            out = TokenOut.model_validate(token)
    except auth.AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    return TokenCreated(**out.model_dump(), token=raw)


@router.delete("/tokens/{name}", dependencies=[admin], summary="Revoke a token")
def revoke_token(request: Request, name: str) -> dict[str, Any]:
    runtime = _runtime(request)
    with runtime.db.session() as session, session.begin():
        if not auth.revoke_token(session, name=name, now=runtime.clock.now()):
            raise HTTPException(404, f"no active token named {name!r}")
    return {"name": name, "revoked": True}


@router.get("/audit", response_model=list[AuditOut], dependencies=[admin])
def list_audit(
    request: Request, limit: int = Query(100, ge=1, le=1000), actor: str | None = None
) -> list[Any]:
    with _runtime(request).db.read_session() as session:
        return audit.recent(session, limit=limit, actor=actor)


@router.get("/config", dependencies=[viewer], summary="The loaded opsbook.yaml (secrets masked)")
def show_config(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = _runtime(request).config.model_dump(mode="json", by_alias=True)
    return data


@router.post("/config/reload", dependencies=[admin], summary="Re-read opsbook.yaml")
def reload_config(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    try:
        config = runtime.reload_config()
    except ConfigError as exc:
        errors = [dataclasses.asdict(issue) for issue in exc.issues]
        return JSONResponse(
            {"status": 422, "error": "invalid_config", "message": str(exc), "errors": errors},
            status_code=422,
        )
    except RuntimeError as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse({"status": "reloaded", "service": config.service.name})
