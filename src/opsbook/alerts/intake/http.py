"""The intake endpoints, served ahead of FastAPI: the alert stream is the hot path.

:class:`AlertIntake` answers these itself and hands every other request to the app
unchanged:

- ``POST /api/v2/alerts``: Alertmanager's ``postableAlerts``; a responder token; 200;
- ``POST /v2/enqueue``: PagerDuty Events API v2; the routing key; 202 as PagerDuty's;
- ``POST /api/v1/alerts/alertmanager``: an Alertmanager webhook (v4); a token; 202;
- ``POST /api/v1/alerts/webhook/NAME``: any JSON, mapped; that webhook's token; 202.

The handlers take an :class:`IntakeRequest` (method, path, headers, body) and return a
:class:`Reply`, so two front ends share them: the outermost ASGI layer of the app
(:meth:`AlertIntake.__call__`, what tests and any ASGI server see), and, under
``opsbook serve``, :mod:`opsbook.core.front`, which answers them straight from the HTTP
protocol with no ASGI cycle at all.

No FastAPI dependency machinery, no per-request audit row (this is machine telemetry,
like heartbeats), the stdlib's C JSON parser, and a group commit: see docs/performance.md.
``alerts.alertmanager_api.public: true`` lifts the token requirement of the first and
third (a trusted network only).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from opsbook.alerts.committer import GroupCommitter, Overloaded, Submission
from opsbook.alerts.config import WebhookIntakeConfig
from opsbook.alerts.intake import IntakeError
from opsbook.alerts.intake import alertmanager as am
from opsbook.alerts.intake import pagerduty as pd
from opsbook.alerts.intake.auth import TokenCache, credentials
from opsbook.alerts.intake.mapping import map_alerts
from opsbook.alerts.service import acknowledge
from opsbook.core.front import FrontReply as Reply
from opsbook.core.front import FrontRequest as IntakeRequest
from opsbook.core.security import error_body

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_BODY = 16 * 1024 * 1024
WEBHOOK_PREFIX = "/api/v1/alerts/webhook/"
RETRY_AFTER = b"5"
_JSON = (b"content-type", b"application/json")
_EMPTY: tuple[tuple[bytes, bytes], ...] = ()


def error_reply(status: int, message: str, **extra: Any) -> Reply:
    headers = _EMPTY
    if status == 401:
        headers = ((b"www-authenticate", b'Bearer, Basic realm="opsbook"'),)
    elif status in (429, 503):
        headers = ((b"retry-after", RETRY_AFTER),)
    return Reply(status, json.dumps(error_body(status, message, **extra)).encode(), headers)


Handler = Callable[[IntakeRequest], Awaitable[Reply]]


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


async def _body(receive: Receive, limit: int) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, reply: Reply) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [_JSON, (b"content-length", str(len(reply.body)).encode()), *reply.headers],
        }
    )
    await send({"type": "http.response.body", "body": reply.body})


_OK = Reply(200)


class AlertIntake:
    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.committer = GroupCommitter(
            runtime.db, runtime.clock, lambda: runtime.config, lambda: runtime.alert_flusher
        )
        # SQLite commits in well under a millisecond, one writer at a time: commit on
        # the event loop itself, without a thread hop per batch.
        self.committer.inline = runtime.db.dialect == "sqlite"
        self.tokens = TokenCache(runtime)
        self.routes: dict[str, Handler] = {
            "/api/v2/alerts": self.alertmanager_alerts,
            "/v2/enqueue": self.pagerduty,
            "/api/v1/alerts/alertmanager": self.alertmanager_webhook,
        }
        runtime.intake = self

    def fast_handler(self, method: str, path: str) -> Handler | None:
        """The intake handler of ``method path``, or None when the app serves it."""
        if method != "POST":
            return None
        handler = self.routes.get(path)
        if handler is None and path.startswith(WEBHOOK_PREFIX):
            handler = self.mapped_webhook
        return handler

    def body_limit(self, path: str) -> int:
        return pd.MAX_BODY if path == "/v2/enqueue" else MAX_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.fast_handler(scope["method"], scope["path"])
            if handler is not None:
                await self._serve_asgi(handler, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve_asgi(
        self, handler: Handler, scope: Scope, receive: Receive, send: Send
    ) -> None:
        path = scope["path"]
        try:
            body = await _body(receive, self.body_limit(path))
        except _TooLarge:
            await _send(send, self.too_large(path))
            return
        except _Gone:
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = IntakeRequest("POST", path, scope.get("query_string", b""), headers, body)
        await _send(send, await handler(request))

    def too_large(self, path: str) -> Reply:
        return error_reply(413, f"the body is larger than {self.body_limit(path)} bytes")

    async def _refusal(self, request: IntakeRequest) -> Reply | None:
        """Token check of the Alertmanager endpoints: None to go on, else the refusal."""
        if self.runtime.config.alerts.alertmanager_api.public:
            return None
        principal = await self.tokens.principal(request.headers)
        if principal is None:
            return error_reply(401, "authentication required: a bearer token or basic auth")
        if not principal.allows("responder"):
            return error_reply(403, f"this needs the responder role; you have {principal.role}")
        return None

    async def _commit(self, submission: Submission, accepted: Reply) -> Reply:
        try:
            await self.committer.submit(submission)
        except Overloaded as exc:
            return error_reply(503, f"overloaded, retry later: {exc}")
        except Exception as exc:
            log.error("alerts.intake_failed", error=f"{type(exc).__name__}: {exc}")
            return error_reply(500, "the alerts could not be stored; retry")
        return accepted

    async def alertmanager_alerts(self, request: IntakeRequest) -> Reply:
        refused = await self._refusal(request)
        if refused is not None:
            return refused
        try:
            data = orjson.loads(request.body)  # twice as fast as the stdlib here
        except ValueError as exc:  # orjson.JSONDecodeError is one
            return error_reply(400, f"the body is not JSON: {exc}")
        config = self.runtime.config.alerts
        try:
            alerts = am.parse_alerts(
                data, now=self.runtime.clock.now(), resolve_timeout=config.resolve_timeout
            )
        except IntakeError as exc:
            return error_reply(400, str(exc))
        return await self._commit(Submission(alerts=alerts), _OK)

    async def alertmanager_webhook(self, request: IntakeRequest) -> Reply:
        refused = await self._refusal(request)
        if refused is not None:
            return refused
        try:
            alerts = am.parse_webhook(json.loads(request.body), now=self.runtime.clock.now())
        except ValueError as exc:  # IntakeError, or not JSON
            return error_reply(400, str(exc))
        return await self._commit(Submission(alerts=alerts), _accepted(len(alerts)))

    async def pagerduty(self, request: IntakeRequest) -> Reply:
        try:
            data = json.loads(request.body)
        except ValueError:
            return Reply(400, json.dumps(pd.invalid(["Invalid JSON"])).encode())
        config = self.runtime.config
        try:
            event = pd.parse_event(
                data,
                integrations=config.alerts.pagerduty,
                service=config.service.name,
                now=self.runtime.clock.now(),
            )
        except pd.PagerDutyError as exc:
            return Reply(400, json.dumps(pd.invalid(exc.errors)).encode())
        if event.action == "acknowledge":
            key = event.key
            submission = Submission(
                action=lambda session, now: acknowledge(
                    session, config=self.runtime.config, dedup_key=key, now=now
                )
            )
        else:
            submission = Submission(alerts=[event.alert])
        try:
            await self.committer.submit(submission)
        except Overloaded:
            return Reply(429, json.dumps(pd.throttled()).encode(), ((b"retry-after", RETRY_AFTER),))
        except Exception as exc:
            log.error("alerts.intake_failed", error=f"{type(exc).__name__}: {exc}")
            return Reply(500, json.dumps({"status": "error", "message": "retry later"}).encode())
        return Reply(202, json.dumps(pd.accepted(event.dedup_key)).encode())

    def _webhook(self, request: IntakeRequest) -> tuple[WebhookIntakeConfig | None, str | None]:
        name = request.path[len(WEBHOOK_PREFIX) :].strip("/")
        hook = next((w for w in self.runtime.config.alerts.webhooks if w.name == name), None)
        token = credentials(request.headers.get("authorization", ""))
        if token is None:
            query = parse_qs(request.query_string.decode("latin-1"))
            given = query.get("token")
            token = given[0] if given else None
        return hook, token

    async def mapped_webhook(self, request: IntakeRequest) -> Reply:
        hook, token = self._webhook(request)
        if hook is None:
            return error_reply(404, "no webhook of that name is configured (alerts.webhooks)")
        expected = hook.token.get_secret_value().encode()
        if token is None or not hmac.compare_digest(expected, token.encode()):
            return error_reply(401, "this webhook needs its token (bearer, basic or ?token=)")
        try:
            alerts = map_alerts(json.loads(request.body), hook, now=self.runtime.clock.now())
        except ValueError as exc:  # IntakeError, or not JSON
            return error_reply(400, str(exc))
        return await self._commit(Submission(alerts=alerts), _accepted(len(alerts)))


def _accepted(count: int) -> Reply:
    return Reply(202, json.dumps({"status": "accepted", "alerts": count}).encode())
