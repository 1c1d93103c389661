"""The alerts, rules and silences pages: list alerts; what each rule is doing; list,
create and expire silences.

Readable without JavaScript: the forms post and redirect back (htmx only boosts them).
Viewers read; creating or expiring a silence needs the responder role and the session's
CSRF token.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsbook.alerts import service
from opsbook.alerts import silences as silencing
from opsbook.alerts.matchers import MatcherError, parse_all
from opsbook.alerts.rules.schemas import RuleOut
from opsbook.alerts.rules.status import rule_statuses
from opsbook.alerts.schemas import MAX_SILENCE, silence_out
from opsbook.config.values import parse_duration
from opsbook.core import auth
from opsbook.core.auth import Principal
from opsbook.core.web.templating import add_template_dir, render
from opsbook.core.web.ui import page_principal

router = APIRouter(include_in_schema=False)
add_template_dir(Path(__file__).parent / "templates")


def _silence_rows(request: Request) -> list[Any]:
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        return [silence_out(s, now) for s in silencing.list_silences(session, now=now)]


@router.get("/alerts")
async def alerts_page(request: Request, state: str = "firing") -> HTMLResponse:
    await page_principal(request)
    runtime = request.app.state.runtime
    chosen = state if state in service.STATES else "firing"

    def read() -> list[service.AlertView]:
        with runtime.db.read_session() as session:
            return service.list_alerts(
                session, config=runtime.config, now=runtime.clock.now(), state=chosen, limit=500
            )

    return render(request, "alerts.html", alerts=await asyncio.to_thread(read), state=chosen)


@router.get("/rules")
async def rules_page(request: Request) -> HTMLResponse:
    """Each configured rule: its state (the most urgent of its series), expression,
    ``for``, severity, last evaluation and error, and its series (as ``opsbook rules``)."""
    await page_principal(request)
    runtime = request.app.state.runtime
    config = runtime.config

    def read() -> list[RuleOut]:
        with runtime.db.read_session() as session:
            return [RuleOut.of(status) for status in rule_statuses(session, config=config)]

    return render(request, "rules.html", rules=await asyncio.to_thread(read))


def _silences_page(
    request: Request,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal: Principal = request.state.principal
    return render(
        request,
        "silences.html",
        status_code=status_code,
        silences=_silence_rows(request),
        can_edit=principal.allows("responder"),
        error=error,
        form=form or {"matchers": request.query_params.get("matchers", ""), "duration": "2h"},
    )


@router.get("/silences")
async def silences_page(request: Request) -> HTMLResponse:
    await page_principal(request)
    return await asyncio.to_thread(_silences_page, request)


async def _editor(request: Request) -> tuple[Principal, dict[str, str]] | Response:
    principal = await page_principal(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not principal.allows("responder"):
        return HTMLResponse("this needs the responder role", status_code=403)
    if principal.kind == "session" and not auth.csrf_matches(
        principal.csrf_token, form.get("csrf_token")
    ):
        return HTMLResponse("missing or wrong CSRF token", status_code=403)
    return principal, form


@router.post("/silences")
async def create_silence(request: Request) -> Response:
    checked = await _editor(request)
    if isinstance(checked, Response):
        return checked
    principal, form = checked
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    lines = [line for line in form.get("matchers", "").splitlines() if line.strip()]
    try:
        duration = parse_duration(form.get("duration", ""))
        if not timedelta(0) < duration <= MAX_SILENCE:
            raise ValueError("the duration must be longer than 0s and at most 365d")
        matchers = parse_all(lines)
        comment = form.get("comment", "").strip()
        if not comment:
            raise ValueError("say why in a comment")

        def write() -> None:
            with runtime.db.session() as session, session.begin():
                silencing.save(
                    session,
                    matchers=matchers,
                    starts_at=now,
                    ends_at=now + duration,
                    created_by=principal.person_id or principal.actor,
                    comment=comment,
                    now=now,
                )

        await asyncio.to_thread(write)
    except (ValueError, MatcherError) as exc:
        message = str(exc)
        return await asyncio.to_thread(
            lambda: _silences_page(request, error=message, form=form, status_code=422)
        )
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/expire")
async def expire_silence(request: Request, silence_id: str) -> Response:
    checked = await _editor(request)
    if isinstance(checked, Response):
        return checked
    runtime = request.app.state.runtime

    def write() -> None:
        with runtime.db.session() as session, session.begin():
            silencing.expire(session, silence_id=silence_id, now=runtime.clock.now())

    try:
        await asyncio.to_thread(write)
    except silencing.SilenceNotFound:
        return HTMLResponse(f"no silence {silence_id}", status_code=404)
    return RedirectResponse("/silences", status_code=303)
