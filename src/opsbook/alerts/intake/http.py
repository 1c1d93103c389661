"""The intake endpoints, served ahead of FastAPI: the alert stream is the hot path.

:class:`AlertIntake` is the outermost ASGI layer of the app.  It answers these itself
and hands every other request to the app unchanged:

- ``POST /api/v2/alerts``: Alertmanager's ``postableAlerts``; a responder token; 200;
- ``POST /v2/enqueue``: PagerDuty Events API v2; the routing key; 202 as PagerDuty's;
- ``POST /api/v1/alerts/alertmanager``: an Alertmanager webhook (v4); a token; 202;
- ``POST /api/v1/alerts/webhook/NAME``: any JSON, mapped; that webhook's token; 202.

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
from opsbook.core.security import error_body

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_BODY = 16 * 1024 * 1024
WEBHOOK_PREFIX = "/api/v1/alerts/webhook/"
RETRY_AFTER = b"5"
_JSON = (b"content-type", b"application/json")


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


async def _answer(
    send: Send, status: int, body: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, message: str, **extra: Any) -> None:
    headers: tuple[tuple[bytes, bytes], ...] = ()
    if status == 401:
        headers = ((b"www-authenticate", b'Bearer, Basic realm="opsbook"'),)
    elif status in (429, 503):
        headers = ((b"retry-after", RETRY_AFTER),)
    await _answer(send, status, json.dumps(error_body(status, message, **extra)).encode(), headers)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class AlertIntake:
    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.committer = GroupCommitter(runtime.db, runtime.clock, lambda: runtime.config)
        self.tokens = TokenCache(runtime)
        self.routes: dict[str, Handler] = {
            "/api/v2/alerts": self.alertmanager_alerts,
            "/v2/enqueue": self.pagerduty,
            "/api/v1/alerts/alertmanager": self.alertmanager_webhook,
        }
        runtime.intake = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            handler = self.routes.get(path)
            if handler is None and path.startswith(WEBHOOK_PREFIX):
                handler = self.mapped_webhook
            if handler is not None:
                try:
                    await handler(scope, receive, send)
                except _TooLarge:
                    await _error(send, 413, f"the body is larger than {MAX_BODY} bytes")
                except _Gone:
                    pass
                return
        await self.app(scope, receive, send)

    async def _allowed(self, scope: Scope, send: Send) -> bool:
        """Token check of the Alertmanager endpoints; False once it has answered."""
        if self.runtime.config.alerts.alertmanager_api.public:
            return True
        principal = await self.tokens.principal(_headers(scope))
        if principal is None:
            await _error(send, 401, "authentication required: a bearer token or basic auth")
            return False
        if not principal.allows("responder"):
            await _error(send, 403, f"this needs the responder role; you have {principal.role}")
            return False
        return True

    async def _commit(self, send: Send, submission: Submission) -> bool:
        try:
            await self.committer.submit(submission)
        except Overloaded as exc:
            await _error(send, 503, f"overloaded, retry later: {exc}")
            return False
        except Exception as exc:
            log.error("alerts.intake_failed", error=f"{type(exc).__name__}: {exc}")
            await _error(send, 500, "the alerts could not be stored; retry")
            return False
        return True

    async def alertmanager_alerts(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._allowed(scope, send):
            return
        body = await _body(receive, MAX_BODY)
        try:
            data = json.loads(body)
        except ValueError as exc:
            await _error(send, 400, f"the body is not JSON: {exc}")
            return
        config = self.runtime.config.alerts
        try:
            alerts = am.parse_alerts(
                data, now=self.runtime.clock.now(), resolve_timeout=config.resolve_timeout
            )
        except IntakeError as exc:
            await _error(send, 400, str(exc))
            return
        if await self._commit(send, Submission(alerts=alerts)):
            await _answer(send, 200)

    async def alertmanager_webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._allowed(scope, send):
            return
        body = await _body(receive, MAX_BODY)
        try:
            alerts = am.parse_webhook(json.loads(body), now=self.runtime.clock.now())
        except ValueError as exc:  # IntakeError, or not JSON
            await _error(send, 400, str(exc))
            return
        if await self._commit(send, Submission(alerts=alerts)):
            await _answer(
                send, 202, json.dumps({"status": "accepted", "alerts": len(alerts)}).encode()
            )

    async def pagerduty(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _body(receive, pd.MAX_BODY)
        try:
            data = json.loads(body)
        except ValueError:
            await _answer(send, 400, json.dumps(pd.invalid(["Invalid JSON"])).encode())
            return
        config = self.runtime.config
        try:
            event = pd.parse_event(
                data,
                integrations=config.alerts.pagerduty,
                service=config.service.name,
                now=self.runtime.clock.now(),
            )
        except pd.PagerDutyError as exc:
            await _answer(send, 400, json.dumps(pd.invalid(exc.errors)).encode())
            return
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
            await _answer(
                send, 429, json.dumps(pd.throttled()).encode(), ((b"retry-after", RETRY_AFTER),)
            )
            return
        except Exception as exc:
            log.error("alerts.intake_failed", error=f"{type(exc).__name__}: {exc}")
            await _answer(
                send, 500, json.dumps({"status": "error", "message": "retry later"}).encode()
            )
            return
        await _answer(send, 202, json.dumps(pd.accepted(event.dedup_key)).encode())

    def _webhook(self, scope: Scope) -> tuple[WebhookIntakeConfig | None, str | None]:
        name = scope["path"][len(WEBHOOK_PREFIX) :].strip("/")
        hook = next((w for w in self.runtime.config.alerts.webhooks if w.name == name), None)
        token = credentials(_headers(scope).get("authorization", ""))
        if token is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            token = (query.get("token") or [None])[0]
        return hook, token

    async def mapped_webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        hook, token = self._webhook(scope)
        if hook is None:
            await _error(send, 404, "no webhook of that name is configured (alerts.webhooks)")
            return
        expected = hook.token.get_secret_value().encode()
        if token is None or not hmac.compare_digest(expected, token.encode()):
            await _error(send, 401, "this webhook needs its token (bearer, basic or ?token=)")
            return
        body = await _body(receive, MAX_BODY)
        try:
            alerts = map_alerts(json.loads(body), hook, now=self.runtime.clock.now())
        except ValueError as exc:  # IntakeError, or not JSON
            await _error(send, 400, str(exc))
            return
        if await self._commit(send, Submission(alerts=alerts)):
            await _answer(
                send, 202, json.dumps({"status": "accepted", "alerts": len(alerts)}).encode()
            )
