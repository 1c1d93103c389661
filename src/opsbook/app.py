"""``create_app(settings)``: assembles the routers into one ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from opsbook import __version__
from opsbook.alerts import amapi as alerts_amapi
from opsbook.alerts import api as alerts_api
from opsbook.alerts import ui as alerts_ui
from opsbook.alerts.intake.http import AlertIntake
from opsbook.checks import api as checks_api
from opsbook.core import api as core_api
from opsbook.core.security import AuditMiddleware, install_error_handlers
from opsbook.core.web import ui as core_ui
from opsbook.core.web.templating import STATIC_DIR
from opsbook.incidents import api as incidents_api
from opsbook.runtime import Runtime
from opsbook.settings import Settings


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app for ``settings`` (or around an existing ``runtime``, as tests do).

    >>> app = create_app(Settings(database_url="sqlite:///opsbook.db"))
    """
    if runtime is None:
        runtime = Runtime.create(settings or Settings())
    app = FastAPI(
        title="Opsbook",
        version=__version__,
        description="Self-hosted incident response and operations: your runbook, running.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_exception_handler(core_ui.LoginRequired, core_ui.login_redirect)  # type: ignore[arg-type]
    # Heartbeat pings are machine telemetry (a cron job every minute), not a person's action.
    app.add_middleware(AuditMiddleware, skip_prefixes=("/api/v1/heartbeats/",))
    # Outermost: the alert intake endpoints are a hot path served ahead of FastAPI (and,
    # like heartbeats, not audited per request); see opsbook.alerts.intake.http.
    app.add_middleware(AlertIntake, runtime=runtime)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(core_api.public)
    app.include_router(core_api.router)
    app.include_router(core_ui.router)
    app.include_router(checks_api.router)
    app.include_router(checks_api.heartbeats)
    app.include_router(incidents_api.router)
    app.include_router(alerts_api.router)
    app.include_router(alerts_ui.router)
    for path, endpoint, methods in alerts_amapi.ROUTES:
        app.add_route(path, endpoint, methods=methods, include_in_schema=False)
    # A plain Starlette route: /probe is a hot path and needs none of FastAPI's machinery.
    app.state.probe_handler = checks_api.probe_handler(runtime)
    app.add_route("/probe", checks_api.probe, methods=["GET"], include_in_schema=False)
    return app
