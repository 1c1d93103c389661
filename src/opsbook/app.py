"""``create_app(settings)``: assembles the routers into one ASGI application."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from opsbook import __version__
from opsbook.alerts import amapi as alerts_amapi
from opsbook.alerts import api as alerts_api
from opsbook.alerts import ui as alerts_ui
from opsbook.alerts.intake.http import AlertIntake
from opsbook.alerts.rules import api as rules_api
from opsbook.checks import api as checks_api
from opsbook.checks import ui as checks_ui
from opsbook.core import api as core_api
from opsbook.core.security import AuditMiddleware, install_error_handlers
from opsbook.core.web import ui as core_ui
from opsbook.core.web.templating import STATIC_DIR
from opsbook.incidents import api as incidents_api
from opsbook.incidents import ui as incidents_ui
from opsbook.incidents import ui_record as incidents_record_ui
from opsbook.incidents.postmortems import api as postmortems_api
from opsbook.incidents.postmortems import ui as postmortems_ui
from opsbook.incidents.reports import api as reports_api
from opsbook.incidents.reports import ui as reports_ui
from opsbook.metrics import api as metrics_api
from opsbook.oncall import api as oncall_api
from opsbook.oncall import linkpages as oncall_links
from opsbook.oncall import ui as oncall_ui
from opsbook.runtime import Runtime
from opsbook.settings import Settings
from opsbook.status import api as status_api
from opsbook.status import public as status_public
from opsbook.status import ui as status_ui
from opsbook.status.snapshot import SnapshotKeeper


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app for ``settings`` (or around an existing ``runtime``, as tests do).

    >>> app = create_app(Settings(database_url="sqlite:///opsbook.db"))
    """
    if runtime is None:
        runtime = Runtime.create(settings or Settings())
    live = status_public.LiveSnapshot(
        SnapshotKeeper(
            db=runtime.db,
            clock=runtime.clock,
            config=lambda: runtime.config,
            owner=f"web-{os.getpid()}-{id(runtime)}",
        )
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # This app's intake (built with its middleware, just before this start-up; a later
        # app on the same runtime replaces ``runtime.intake``).
        intake = runtime.intake
        if intake is not None:
            # Before the port takes requests: the first alerts are then as fast as the rest.
            intake.committer.warm_up()
        yield
        live.stop()
        if intake is not None:
            intake.committer.close()  # its connection, kept between batches

    app = FastAPI(
        lifespan=lifespan,
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
    # Status-page forms are the public's (sign-ups), rate-limited rather than audited.
    app.add_middleware(AuditMiddleware, skip_prefixes=("/api/v1/heartbeats/", "/status/"))
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
    app.include_router(status_api.router)
    app.include_router(status_ui.router)
    app.include_router(checks_ui.router)
    # The public status site: plain Starlette routes answering from the snapshot.
    app.state.status_snapshot = live
    app.state.status_signups = status_public.SignupLimiter()
    app.router.routes.extend(status_public.routes())
    app.include_router(postmortems_api.router)
    app.include_router(reports_api.router)
    incidents_ui.setup_templates()
    app.state.incident_panels = {"public_update": status_ui.public_update_context}
    app.include_router(incidents_ui.router)
    app.include_router(incidents_record_ui.router)
    app.include_router(postmortems_ui.router)
    app.include_router(reports_ui.router)
    app.include_router(oncall_api.router)
    app.include_router(oncall_links.router)
    app.include_router(oncall_ui.router)
    app.state.oncall_now = oncall_ui.dashboard_now
    app.include_router(metrics_api.router)
    app.include_router(rules_api.router)
    app.include_router(alerts_api.router)
    app.include_router(alerts_ui.router)
    for path, endpoint, methods in alerts_amapi.ROUTES:
        app.add_route(path, endpoint, methods=methods, include_in_schema=False)
    # A plain Starlette route: /probe is a hot path and needs none of FastAPI's machinery.
    app.state.probe_handler = checks_api.probe_handler(runtime)
    app.add_route("/probe", checks_api.probe, methods=["GET"], include_in_schema=False)
    return app
