"""Request authentication, role checks, CSRF, audit and JSON errors for FastAPI.

Every route is private unless it is listed in :data:`PUBLIC_PATHS` (or below a public
prefix); a test walks all routes to hold that line.  Callers authenticate with a
bearer token (``Authorization: Bearer obk_...``) or a web session cookie; a cookie
request that changes something must also carry the session's CSRF token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsbook.core import audit, auth
from opsbook.core.auth import Principal, Role

log = structlog.get_logger(__name__)

SESSION_COOKIE = "opsbook_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Routes anyone may call.  Everything else needs a token or a session.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/login",
        "/api/openapi.json",
        "/api/docs",
        "/favicon.ico",
        # The public status page's Statuspage-compatible JSON and feeds (opsbook.status).
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
        "/history.atom",
        "/history.rss",
        "/status",
    }
)
# Heartbeat pings carry their own credential: the check's unguessable key in the path;
# so do the links in a page (a signed, single-use, expiring token; docs/oncall.md).
# /status/ is the public status page: its pages, feeds, badges and subscriber forms.
PUBLIC_PREFIXES = ("/static/", "/api/v1/heartbeats/", "/links/", "/status/")


class NotAuthenticated(HTTPException):
    def __init__(
        self, message: str = "authentication required: a bearer token or a session"
    ) -> None:
        super().__init__(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def current_principal(request: Request) -> Principal | None:
    """Authenticate the request once; the principal is kept on ``request.state``."""
    if "principal" in request.state._state:
        principal: Principal | None = request.state.principal
        return principal
    runtime = _runtime(request)
    principal = None
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        now = runtime.clock.now()
        with runtime.db.read_session() as session:
            found_token = auth.authenticate_token(session, credentials.strip(), now=now)
        if found_token is None:
            raise NotAuthenticated("invalid or revoked token")
        principal, stale = found_token
        if stale:
            with runtime.db.session() as session, session.begin():
                auth.touch_token(session, name=principal.name, now=now)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        with runtime.db.read_session() as session:
            found = auth.session_person(session, cookie, now=runtime.clock.now())
        if found is not None:
            person_id, csrf = found
            person = runtime.config.find_person(person_id)
            if person is not None:
                principal = Principal(
                    kind="session",
                    name=person_id,
                    role=person.role,
                    person_id=person_id,
                    csrf_token=csrf,
                )
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if principal.kind != "session" or request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = str((await request.form()).get(CSRF_FIELD) or "") or None
    if not auth.csrf_matches(principal.csrf_token, given):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")


def require(role: Role) -> Callable[..., Any]:
    """A dependency that admits callers with at least ``role``.

    >>> @router.post("/things", dependencies=[Depends(require("responder"))])
    """

    async def dependency(request: Request) -> Principal:
        principal = await asyncio.to_thread(current_principal, request)
        if principal is None:
            raise NotAuthenticated()
        if not principal.allows(role):
            raise HTTPException(
                status_code=403, detail=f"this needs the {role} role; you have {principal.role}"
            )
        await _check_csrf(request, principal)
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


viewer = Depends(require("viewer"))
responder = Depends(require("responder"))
admin = Depends(require("admin"))


def error_body(status: int, message: Any, **extra: Any) -> dict[str, Any]:
    return {"status": status, "error": _reason(status), "message": message, **extra}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_")
    except ValueError:
        return "error"


def install_error_handlers(app: FastAPI) -> None:
    """Errors are JSON with a clear message; never a traceback."""

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, exc.detail),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "location": ".".join(str(part) for part in err.get("loc", ())),
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        return JSONResponse(error_body(422, summary, problems=problems), status_code=422)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path, method=request.method)
        return JSONResponse(error_body(500, "internal error; see the server log"), status_code=500)

    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)


class AuditMiddleware:
    """Writes one audit row per mutating request: who, what, when, from where, outcome."""

    def __init__(self, app: ASGIApp, *, skip_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"].startswith(self.skip_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            await asyncio.to_thread(self._record, scope, status["code"])

    @staticmethod
    def _record(scope: Scope, status_code: int) -> None:
        runtime = scope["app"].state.runtime
        principal = scope.get("state", {}).get("principal")
        client = scope.get("client")
        try:
            with runtime.db.session() as session, session.begin():
                audit.record(
                    session,
                    at=runtime.clock.now(),
                    actor=principal.actor if principal else "anonymous",
                    action=f"{scope['method']} {scope['path']}",
                    target=scope.get("route_path"),
                    remote_addr=client[0] if client else None,
                    status_code=status_code,
                )
        except Exception:
            log.exception("audit.write_failed", path=scope["path"])
