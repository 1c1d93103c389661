"""Login, logout and the platform dashboard."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsbook.core import auth, health
from opsbook.core.auth import Principal
from opsbook.core.security import SESSION_COOKIE, current_principal
from opsbook.core.web import dashboard
from opsbook.core.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "opsbook_login_csrf"


class LoginRequired(Exception):
    """Raised by :func:`page_principal`; the app turns it into a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


async def page_principal(request: Request) -> Principal:
    """For HTML pages: the caller, or a redirect to the login page."""
    principal = await asyncio.to_thread(current_principal, request)
    if principal is None:
        raise LoginRequired(request.url.path)
    return principal


def login_redirect(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


def _safe_next(value: str | None) -> str:
    # Only same-site paths: never let ?next= send someone to another host.
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _login_page(
    request: Request, *, next_path: str, error: str | None = None, username: str | None = None
) -> HTMLResponse:
    login_csrf = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status_code=401 if error else 200,
        login_csrf=login_csrf,
        next=next_path,
        error=error,
        username=username,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        login_csrf,
        httponly=True,
        samesite="strict",
        secure=request.app.state.runtime.settings.cookie_secure,
        max_age=3600,
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    request.state.principal = None
    return _login_page(request, next_path=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    request.state.principal = None
    runtime = request.app.state.runtime
    next_path = _safe_next(next)
    if not auth.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(
            request, next_path=next_path, error="Your login form expired; please try again."
        )
    known = any(p.id == username for p in runtime.config.people)
    client = request.client.host if request.client else None
    with runtime.db.session() as session, session.begin():
        valid = auth.verify_password(session, person_id=username, password=password)
        if not (valid and known):
            return _login_page(
                request,
                next_path=next_path,
                error="Wrong person id or password.",
                username=username,
            )
        raw, _csrf = auth.start_session(
            session, person_id=username, now=runtime.clock.now(), remote_addr=client
        )
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.cookie_secure,
        max_age=int(auth.SESSION_TTL.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    principal = await page_principal(request)
    form = await request.form()
    if principal.kind == "session" and not auth.csrf_matches(
        principal.csrf_token, str(form.get("csrf_token") or "")
    ):
        return Response("missing or wrong CSRF token", status_code=403)
    runtime = request.app.state.runtime
    if cookie := request.cookies.get(SESSION_COOKIE):
        with runtime.db.session() as session, session.begin():
            auth.end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _health(request: Request) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return health.readiness(
        runtime.db, now=runtime.clock.now(), stale_after=runtime.settings.worker_stale_after
    ).body


def _board(request: Request) -> dashboard.Dashboard:
    runtime = request.app.state.runtime
    with runtime.db.read_session() as session:
        return dashboard.gather(
            session,
            config=runtime.config,
            now=runtime.clock.now(),
            oncall_now=getattr(request.app.state, "oncall_now", None),
        )


@router.get("/")
async def dashboard_page(request: Request) -> HTMLResponse:
    await page_principal(request)
    runtime = request.app.state.runtime
    config = runtime.config
    severities = [
        {"name": name, **level.model_dump(mode="json")} for name, level in config.severities.items()
    ]
    return render(
        request,
        "dashboard.html",
        config=config,
        config_path=runtime.config_path,
        severities=severities,
        health=await asyncio.to_thread(_health, request),
        board=await asyncio.to_thread(_board, request),
        now=runtime.clock.now(),
    )


@router.get("/ui/dashboard/live")
async def dashboard_live(request: Request) -> HTMLResponse:
    """The dashboard's live part (incidents, breaches, failing checks), polled by htmx."""
    await page_principal(request)
    board = await asyncio.to_thread(_board, request)
    return render(
        request, "_dashboard_live.html", board=board, now=request.app.state.runtime.clock.now()
    )


@router.get("/ui/health")
async def health_fragment(request: Request) -> HTMLResponse:
    await page_principal(request)
    return render(request, "_health.html", health=await asyncio.to_thread(_health, request))
