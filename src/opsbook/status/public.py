"""The public status routes of the main app: snapshot documents and the subscriber forms.

Documents are plain Starlette routes that look the request up in this process's
snapshot (kept fresh by a :class:`~opsbook.status.snapshot.SnapshotKeeper` thread the
app starts) and answer its bytes, with ``ETag`` / ``If-None-Match``.  The dedicated
``opsbook status serve`` answers the same documents faster; the forms are only here.

The subscribe form is protected from abuse without JavaScript or third parties: a
hidden honeypot field, at most ``signup_window``'s worth of sign-ups per client
address (``max_signups_per_address``, counted in this process), and at most one
confirmation mail per address per ``signup_window``; every answer reads the same
whether or not the address was already subscribed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from opsbook.status import page, service, subscribers
from opsbook.status.snapshot import JSON, Document, SnapshotKeeper

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

DOCUMENT_PATHS: Final = (
    "/status",
    "/status/history",
    "/status/incidents/{code}",
    "/status/feed.atom",
    "/status/feed.rss",
    "/history.atom",
    "/history.rss",
    "/status/badge.svg",
    "/status/badge/{component}.svg",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
)
FORM_PATHS: Final = ("/status/subscribe", "/status/subscriptions/confirm", "/status/unsubscribe")


def _headers(doc: Document) -> dict[str, str]:
    headers = {
        "ETag": doc.etag,
        "Cache-Control": "public, max-age=10",
        "X-Content-Type-Options": "nosniff",
    }
    if doc.content_type == JSON:
        headers["Access-Control-Allow-Origin"] = "*"
    return headers


class LiveSnapshot:
    """This process's keeper, and the thread that refreshes it once someone reads a page.

    Started on the first public request rather than with the app, so a process that
    never serves the status page (or a test) does no status work; stopped with the app.
    """

    def __init__(self, keeper: SnapshotKeeper, *, interval: float = 1.0) -> None:
        self.keeper = keeper
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = self.keeper.start(self._stop, interval=self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


async def document(request: Request) -> Response:
    live: LiveSnapshot = request.app.state.status_snapshot
    keeper = live.keeper
    snapshot = keeper.current or await asyncio.to_thread(keeper.refresh)
    live.ensure_running()
    doc = None if snapshot is None else snapshot.find(request.url.path, request.url.query)
    if doc is None:
        return Response("Not Found\n", status_code=404, media_type="text/plain")
    if request.headers.get("if-none-match") in (doc.etag, "*"):
        return Response(status_code=304, headers=_headers(doc))
    return Response(doc.body, media_type=doc.content_type, headers=_headers(doc))


class SignupLimiter:
    """At most ``limit`` sign-ups per client address per ``window`` seconds (this process)."""

    def __init__(self) -> None:
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, address: str, *, limit: int, window: float) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen[address]
            while seen and now - seen[0] > window:
                seen.popleft()
            if len(seen) >= limit:
                return False
            seen.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses; bounded memory
                for key in [k for k, v in self._seen.items() if not v][:5_000]:
                    del self._seen[key]
            return True


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _answer(
    request: Request,
    title: str,
    message: str,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    config = _runtime(request).config
    theme = page.colour_vars(config.status_page.colours)
    html = page.render_message(
        config.status_page.name or config.service.name,
        title=title,
        message=message,
        form=form,
        theme_vars=theme,
        status_code=status,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


async def subscribe(request: Request) -> Response:
    runtime = _runtime(request)
    settings = runtime.config.status_page.subscribers
    form = await request.form()
    if form.get("website"):  # the honeypot: people leave it empty, naive bots fill it in
        return _answer(
            request,
            "Check your inbox",
            "If the address can receive mail, a confirmation link is on its way.",
        )
    client = request.client.host if request.client else "unknown"
    limiter: SignupLimiter = request.app.state.status_signups
    if not limiter.allow(
        client,
        limit=settings.max_signups_per_address,
        window=settings.signup_window.total_seconds(),
    ):
        return _answer(
            request, "Too many sign-ups", "Please try again in a few minutes.", status=429
        )
    address = str(form.get("email") or "")
    components = [str(c) for c in form.getlist("component")]

    def work() -> None:
        with runtime.db.session() as session, session.begin():
            subscribers.subscribe_email(
                session,
                config=runtime.config,
                address=address,
                components=components,
                now=runtime.clock.now(),
                remote_addr=client,
            )

    try:
        await asyncio.to_thread(work)
    except service.StatusError as exc:
        return _answer(request, "Could not subscribe", str(exc), status=422)
    return _answer(
        request,
        "Check your inbox",
        "If the address can receive mail, a confirmation link is on its way.",
    )


async def confirm(request: Request) -> Response:
    """GET shows a button (mail scanners fetch links; only a person presses it); POST confirms."""
    runtime = _runtime(request)
    if request.method == "GET":
        token = request.query_params.get("token", "")
        return _answer(
            request,
            "Confirm your subscription",
            "Press the button to start getting updates by email.",
            form={
                "action": "/status/subscriptions/confirm",
                "token": token,
                "button": "Confirm subscription",
            },
        )
    token = str((await request.form()).get("token") or "")

    def work() -> None:
        with runtime.db.session() as session, session.begin():
            subscribers.confirm(
                session, config=runtime.config, token=token, now=runtime.clock.now()
            )

    try:
        await asyncio.to_thread(work)
    except (service.StatusError, service.StatusNotFound) as exc:
        return _answer(request, "Could not confirm", str(exc.args[0]), status=400)
    return _answer(request, "Subscribed", "You will get an email when we post an update.")


async def unsubscribe(request: Request) -> Response:
    """GET shows a button; POST (the page's, or a mail client's RFC 8058 one-click) leaves."""
    runtime = _runtime(request)
    token = request.query_params.get("token", "")
    if request.method == "GET":
        return _answer(
            request,
            "Unsubscribe",
            "Press the button to stop getting updates.",
            form={
                "action": f"/status/unsubscribe?token={token}",
                "token": token,
                "button": "Unsubscribe",
            },
        )
    form = await request.form()
    token = str(form.get("token") or token)

    def work() -> None:
        with runtime.db.session() as session, session.begin():
            subscribers.unsubscribe(session, token=token, now=runtime.clock.now())

    try:
        await asyncio.to_thread(work)
    except service.StatusNotFound as exc:
        return _answer(request, "Could not unsubscribe", str(exc.args[0]), status=400)
    return _answer(request, "Unsubscribed", "You will get no more updates from us.")


def routes() -> list[BaseRoute]:
    """Plain Starlette routes (no FastAPI machinery: these answer anyone, fast)."""
    out: list[BaseRoute] = [
        Route(path, document, methods=["GET", "HEAD"], include_in_schema=False)
        for path in DOCUMENT_PATHS
    ]
    out += [
        Route("/status/subscribe", subscribe, methods=["POST"], include_in_schema=False),
        Route(
            "/status/subscriptions/confirm",
            confirm,
            methods=["GET", "POST"],
            include_in_schema=False,
        ),
        Route("/status/unsubscribe", unsubscribe, methods=["GET", "POST"], include_in_schema=False),
    ]
    return out
