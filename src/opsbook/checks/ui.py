"""The operator checks pages: every check at a glance, and one check's history.

``/checks`` lists each check with its state, uptime and a latency sparkline;
``/checks/{name}`` shows its uptime over 24 h to 90 d, a p50/p95 latency chart (server-side
SVG from the minute rollups) and its latest results with their reasons.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from opsbook.checks import charts, service
from opsbook.core.web.templating import add_template_dir, render
from opsbook.core.web.ui import page_principal

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(include_in_schema=False)
add_template_dir(Path(__file__).parent / "templates")
UPTIME_WINDOWS = (
    ("24 h", timedelta(hours=24)),
    ("7 d", timedelta(days=7)),
    ("30 d", timedelta(days=30)),
    ("90 d", timedelta(days=90)),
)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _percent(ratio: float | None) -> str:
    return "no data" if ratio is None else f"{ratio * 100:.3f}%"


def _list(request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        states = {s.check: s for s in service.list_states(session)}
        rows = []
        for check in runtime.config.checks:
            state = states.get(check.name)
            rows.append(
                {
                    "name": check.name,
                    "kind": check.kind,
                    "component": check.component,
                    "status": state.status if state else "unknown",
                    "reason": state.last_reason.message if state and state.last_reason else "",
                    "last_ms": state.last_duration_ms if state else None,
                    "uptime_24h": _percent(
                        service.uptime(
                            session, check=check.name, start=now - timedelta(hours=24), end=now
                        ).ratio
                    ),
                    "uptime_30d": _percent(
                        service.uptime(
                            session, check=check.name, start=now - timedelta(days=30), end=now
                        ).ratio
                    ),
                    "spark": charts.recent_latency(session, check=check.name, now=now),
                }
            )
    return {"checks": rows}


@router.get("/checks")
async def checks_page(request: Request) -> HTMLResponse:
    await page_principal(request)
    return render(request, "checks.html", **await asyncio.to_thread(_list, request))


def _detail(request: Request, name: str, hours: int) -> dict[str, Any] | None:
    runtime = _runtime(request)
    check = runtime.config.find_check(name)
    if check is None:
        return None
    now = runtime.clock.now()
    window = timedelta(hours=hours)
    bucket = max(timedelta(minutes=1), window / 48)
    with runtime.db.read_session() as session:
        state = next((s for s in service.list_states(session) if s.check == name), None)
        uptimes = [
            (label, _percent(service.uptime(session, check=name, start=now - span, end=now).ratio))
            for label, span in UPTIME_WINDOWS
        ]
        points = service.latency_series(
            session, check=name, start=now - window, end=now, bucket=bucket
        )
        recent = service.results_since(session, check=name, since=now - window, limit=5000)
    chart = charts.latency_chart(
        name, [p.start for p in points], [p.p50_ms for p in points], [p.p95_ms for p in points]
    )
    return {
        "check": check,
        "state": state,
        "uptimes": uptimes,
        "chart": chart,
        "results": list(reversed(recent))[:100],
        "hours": hours,
        "windows": (1, 6, 24, 72, 168),
    }


@router.get("/checks/{name}")
async def check_page(
    request: Request, name: str, hours: int = Query(24, ge=1, le=168)
) -> HTMLResponse:
    await page_principal(request)
    context = await asyncio.to_thread(_detail, request, name, hours)
    if context is None:
        return render(request, "check.html", status_code=404, check=None, check_name=name)
    return render(request, "check.html", check_name=name, **context)
