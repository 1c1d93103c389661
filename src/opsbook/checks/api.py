"""HTTP endpoints of the checks domain."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsbook.checks import service
from opsbook.checks.blackbox import ProbeHandler, ProbeRequestError, scrape_timeout
from opsbook.checks.heartbeat.service import record_ping
from opsbook.checks.result import CheckResult
from opsbook.checks.schemas import (
    CheckOut,
    PingOut,
    ReasonOut,
    ResultOut,
    UptimeOut,
    VerdictOut,
)
from opsbook.checks.worker import heartbeat_checks
from opsbook.config import OpsbookConfig
from opsbook.core.security import error_body, require, viewer

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_require_viewer = require("viewer")


async def probe(request: Request) -> Response:
    """``GET /probe?target=...&module=http_2xx``: blackbox_exporter's answer, from Opsbook."""
    runtime = request.app.state.runtime
    if not runtime.config.settings.probe.public:
        await _require_viewer(request)
    handler: ProbeHandler = request.app.state.probe_handler
    params = request.query_params
    try:
        timeout = scrape_timeout(
            request.headers.get("x-prometheus-scrape-timeout-seconds"), params.get("timeout")
        )
        body = await handler.probe(
            module=params.get("module") or "http_2xx",
            target=params.get("target") or "",
            timeout=timeout,
        )
    except ProbeRequestError as exc:
        return JSONResponse(error_body(400, str(exc)), status_code=400)
    return Response(body, media_type=PROMETHEUS_TEXT)


def probe_handler(runtime: Runtime) -> ProbeHandler:
    """The app's /probe handler; it reads the configured checks as they are after a reload."""
    return ProbeHandler(lambda: runtime.config)


router = APIRouter(prefix="/api/v1", tags=["checks"])
# Pinged by cron jobs and backup scripts; the unguessable key is the credential.
heartbeats = APIRouter(prefix="/api/v1/heartbeats", tags=["checks"])


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _reason(reason: Any) -> ReasonOut | None:
    return None if reason is None else ReasonOut(code=reason.code, message=reason.message)


def _ratio(session: Session, name: str, now: datetime, window: timedelta) -> float | None:
    return service.uptime(session, check=name, start=now - window, end=now).ratio


def _checks_out(config: OpsbookConfig, session: Session, now: datetime) -> list[CheckOut]:
    states = {state.check: state for state in service.list_states(session)}
    out = []
    for check in config.checks:
        state = states.get(check.name)
        out.append(
            CheckOut(
                name=check.name,
                kind=check.kind,
                description=check.description or None,
                every_seconds=check.every.total_seconds(),
                component=check.component,
                labels=dict(check.labels),
                status=state.status if state else "unknown",
                since=state.since if state else None,
                last_run_at=state.last_run_at if state else None,
                last_ok=state.last_ok if state else None,
                last_reason=_reason(state.last_reason) if state else None,
                last_duration_ms=state.last_duration_ms if state else None,
                uptime_24h=_ratio(session, check.name, now, timedelta(hours=24)),
                uptime_30d=_ratio(session, check.name, now, timedelta(days=30)),
            )
        )
    return out


@router.get("/checks", response_model=list[CheckOut], dependencies=[viewer])
def list_checks(request: Request) -> list[CheckOut]:
    """Every configured check with its state, last result and 24 h / 30 d uptime."""
    runtime = _runtime(request)
    with runtime.db.read_session() as session:
        return _checks_out(runtime.config, session, runtime.clock.now())


@router.get("/checks/{name}", response_model=CheckOut, dependencies=[viewer])
def get_check(request: Request, name: str) -> CheckOut:
    runtime = _runtime(request)
    config = runtime.config
    if config.find_check(name) is None:
        raise HTTPException(404, f"no check named {name!r}")
    with runtime.db.read_session() as session:
        return next(c for c in _checks_out(config, session, runtime.clock.now()) if c.name == name)


def _result_out(result: CheckResult) -> ResultOut:
    return ResultOut(
        check=result.check,
        kind=result.kind,
        started_at=result.started_at,
        ok=result.ok,
        status=result.status,
        reason=_reason(result.reason),
        timings=dict(result.timings),
        observed=dict(result.observed),
        verdicts=[
            VerdictOut(condition=v.expression, ok=v.ok, observed=v.observed, message=v.message)
            for v in result.verdicts
        ],
    )


@router.get("/checks/{name}/results", response_model=list[ResultOut], dependencies=[viewer])
def check_results(
    request: Request,
    name: str,
    since: datetime | None = Query(None, description="ISO 8601; default: the last hour"),
    limit: int = Query(500, ge=1, le=5000),
) -> list[ResultOut]:
    """Raw results, oldest first (kept ``settings.checks.keep_raw``, 7 days by default)."""
    runtime = _runtime(request)
    if runtime.config.find_check(name) is None:
        raise HTTPException(404, f"no check named {name!r}")
    start = _aware(since) if since else runtime.clock.now() - timedelta(hours=1)
    with runtime.db.read_session() as session:
        results = service.results_since(session, check=name, since=start, limit=limit)
    return [_result_out(result) for result in results]


@router.get("/checks/{name}/uptime", response_model=UptimeOut, dependencies=[viewer])
def check_uptime(
    request: Request,
    name: str,
    start: datetime | None = Query(None, alias="from", description="default: 24 h ago"),
    end: datetime | None = Query(None, alias="to", description="default: now"),
) -> UptimeOut:
    """Uptime over any window, counted in minutes of downtime (see docs/checks-storage.md)."""
    runtime = _runtime(request)
    if runtime.config.find_check(name) is None:
        raise HTTPException(404, f"no check named {name!r}")
    now = runtime.clock.now()
    window_end = _aware(end) if end else now
    window_start = _aware(start) if start else window_end - timedelta(hours=24)
    if window_end <= window_start:
        raise HTTPException(422, "'to' must be after 'from'")
    with runtime.db.read_session() as session:
        found = service.uptime(session, check=name, start=window_start, end=window_end)
    return UptimeOut(
        check=name,
        start=found.start,
        end=found.end,
        ratio=found.ratio,
        down_minutes=found.down_minutes,
        total_minutes=found.total_minutes,
        unknown_minutes=found.unknown_minutes,
    )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise HTTPException(422, "times need a zone, e.g. 2026-11-22T09:00:00Z")
    return value


@heartbeats.post("/{key}", response_model=PingOut, summary="Ping a heartbeat check")
def ping(request: Request, key: str) -> PingOut:
    """``curl -fsS -X POST https://opsbook/api/v1/heartbeats/KEY`` at the end of the job."""
    runtime = _runtime(request)
    client = request.client.host if request.client else None
    checks = heartbeat_checks(runtime.config)
    with runtime.db.session() as session, session.begin():
        name = record_ping(session, checks=checks, key=key, now=runtime.clock.now(), source=client)
    if name is None:
        raise HTTPException(404, "no heartbeat check has this key")
    return PingOut(status="ok", check=name)
