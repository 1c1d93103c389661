"""The rest of Alertmanager's API v2, for Prometheus, ``amtool`` and Alertmanager UIs.

``POST /api/v2/alerts`` is served by :mod:`opsbook.alerts.intake.http`; these are the
reads and the silences, answered in Alertmanager's JSON (times as RFC 3339 with
milliseconds, ``status.state`` of alerts and silences):

- ``GET /api/v2/alerts`` (``active``, ``silenced``, ``inhibited``, ``unprocessed``,
  ``filter``, ``receiver``), sorted by fingerprint;
- ``GET|POST /api/v2/silences``, ``GET|DELETE /api/v2/silence/{id}``;
- ``GET /api/v2/status`` and ``GET /api/v2/receivers``.

Reads need a viewer token, changes a responder one (bearer, or basic auth with the token
as password), unless ``alerts.alertmanager_api.public`` is true.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsbook import __version__
from opsbook.alerts import silences as silencing
from opsbook.alerts.labels import parse_time, rfc3339_millis
from opsbook.alerts.matchers import Matcher, MatcherError, parse_all
from opsbook.alerts.models import Silence
from opsbook.alerts.service import AlertView, list_alerts
from opsbook.core.auth import Role
from opsbook.core.security import error_body

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

BOOL_PARAMS = ("active", "silenced", "inhibited", "unprocessed")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status)


async def _guard(request: Request, role: Role) -> JSONResponse | None:
    """None when the caller may go on; else the refusal to send."""
    runtime = _runtime(request)
    if runtime.config.alerts.alertmanager_api.public:
        request.state.principal = None
        return None
    assert runtime.intake is not None
    principal = await runtime.intake.tokens.principal(dict(request.headers))
    request.state.principal = principal
    if principal is None:
        return JSONResponse(
            error_body(401, "authentication required: a bearer token or basic auth"),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer, Basic realm="opsbook"'},
        )
    if not principal.allows(role):
        return _error(403, f"this needs the {role} role; you have {principal.role}")
    return None


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return True
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{name} must be true or false")
    return value.lower() == "true"


def gettable_alert(view: AlertView) -> dict[str, Any]:
    return {
        "annotations": view.annotations,
        "endsAt": rfc3339_millis(view.ends_at),
        "fingerprint": view.fingerprint,
        "receivers": [{"name": name} for name in view.receivers],
        "startsAt": rfc3339_millis(view.starts_at),
        "status": {
            "inhibitedBy": list(view.mute.inhibited_by),
            "silencedBy": list(view.mute.silenced_by),
            "state": view.mute.state,
        },
        "updatedAt": rfc3339_millis(view.updated_at),
        "generatorURL": view.generator_url,
        "labels": view.labels,
    }


async def get_alerts(request: Request) -> Response:
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    try:
        active, silenced, inhibited = (_flag(request, n) for n in BOOL_PARAMS[:3])
        _flag(request, "unprocessed")
        matchers = parse_all(request.query_params.getlist("filter"))
        receiver = request.query_params.get("receiver")
        receiver_re = re.compile(f"(?:{receiver})") if receiver else None
    except (ValueError, re.error) as exc:
        return _error(400, str(exc))
    runtime = _runtime(request)

    def read() -> list[AlertView]:
        with runtime.db.read_session() as session:
            return list_alerts(
                session,
                config=runtime.config,
                now=runtime.clock.now(),
                state="firing",
                matchers=matchers,
                limit=None,
            )

    out = []
    for view in await asyncio.to_thread(read):
        mute = view.mute
        if not active and not mute.muted:
            continue
        if not silenced and mute.silenced_by:
            continue
        if not inhibited and mute.inhibited_by:
            continue
        if receiver_re is not None and not any(receiver_re.fullmatch(r) for r in view.receivers):
            continue
        out.append(gettable_alert(view))
    out.sort(key=lambda alert: alert["fingerprint"])
    return JSONResponse(out)


def gettable_silence(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.id,
        "status": {"state": silencing.state(silence, now)},
        "updatedAt": rfc3339_millis(silence.updated_at),
        "comment": silence.comment,
        "createdBy": silence.created_by,
        "endsAt": rfc3339_millis(silence.ends_at),
        "matchers": [
            {
                "isEqual": m.get("isEqual", True),
                "isRegex": m.get("isRegex", False),
                "name": m["name"],
                "value": m["value"],
            }
            for m in silence.matchers
        ],
        "startsAt": rfc3339_millis(silence.starts_at),
    }


def _silence_matches_filter(silence: Silence, filters: list[Matcher]) -> bool:
    """Alertmanager's rule: each filter matcher equals one of the silence's matchers."""
    own = {
        (m["name"], bool(m.get("isRegex")), bool(m.get("isEqual", True)), m["value"])
        for m in silence.matchers
    }
    return all((f.name, f.is_regex, f.is_equal, f.value) in own for f in filters)


async def _in_thread(call: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(call)


async def get_silences(request: Request) -> Response:
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    try:
        filters = parse_all(request.query_params.getlist("filter"))
    except MatcherError as exc:
        return _error(400, str(exc))
    runtime = _runtime(request)
    now = runtime.clock.now()

    def read() -> list[dict[str, Any]]:
        with runtime.db.read_session() as session:
            return [
                gettable_silence(s, now)
                for s in silencing.list_silences(session, now=now)
                if _silence_matches_filter(s, filters)
            ]

    return JSONResponse(await _in_thread(read))


async def get_silence(request: Request) -> Response:
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    runtime = _runtime(request)
    silence_id = request.path_params["silence_id"]
    now = runtime.clock.now()

    def read() -> dict[str, Any] | None:
        with runtime.db.read_session() as session:
            try:
                return gettable_silence(silencing.get(session, silence_id=silence_id), now)
            except silencing.SilenceNotFound:
                return None

    found = await _in_thread(read)
    return (
        JSONResponse(found) if found is not None else _error(404, f"silence {silence_id} not found")
    )


def parse_postable_silence(data: Any) -> dict[str, Any]:
    """``postableSilence`` as arguments of :func:`opsbook.alerts.silences.save`."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a silence object")
    matchers = data.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        raise ValueError("matchers: required, a non-empty list")
    starts_at = parse_time(data.get("startsAt"), "startsAt")
    ends_at = parse_time(data.get("endsAt"), "endsAt")
    if starts_at is None or ends_at is None:
        raise ValueError("startsAt and endsAt are required")
    for name in ("createdBy", "comment"):
        if not isinstance(data.get(name, ""), str):
            raise ValueError(f"{name} must be a string")
    silence_id = data.get("id") or None
    if silence_id is not None and not isinstance(silence_id, str):
        raise ValueError("id must be a string")
    return {
        "matchers": [Matcher.from_api(m) for m in matchers],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "created_by": data.get("createdBy") or "",
        "comment": data.get("comment") or "",
        "silence_id": silence_id,
    }


async def post_silences(request: Request) -> Response:
    refused = await _guard(request, "responder")
    if refused is not None:
        return refused
    try:
        fields = parse_postable_silence(json.loads(await request.body()))
    except ValueError as exc:  # MatcherError, bad JSON, bad times
        return _error(400, str(exc))
    runtime = _runtime(request)

    def write() -> str:
        with runtime.db.session() as session, session.begin():
            change = silencing.save(session, now=runtime.clock.now(), **fields)
            return change.silence.id

    try:
        silence_id = await _in_thread(write)
    except silencing.SilenceNotFound as exc:
        return _error(404, str(exc))
    except silencing.SilenceError as exc:
        return _error(400, str(exc))
    return JSONResponse({"silenceID": silence_id})


async def delete_silence(request: Request) -> Response:
    refused = await _guard(request, "responder")
    if refused is not None:
        return refused
    runtime = _runtime(request)
    silence_id = request.path_params["silence_id"]

    def write() -> None:
        with runtime.db.session() as session, session.begin():
            silencing.expire(session, silence_id=silence_id, now=runtime.clock.now())

    try:
        await _in_thread(write)
    except silencing.SilenceNotFound as exc:
        return _error(404, str(exc))
    return Response(status_code=200)


async def get_status(request: Request) -> Response:
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    runtime = _runtime(request)
    config = runtime.config.model_dump(mode="json", by_alias=True, include={"alerts"})
    return JSONResponse(
        {
            "cluster": {"name": "", "peers": [], "status": "disabled"},
            "config": {"original": json.dumps(config, indent=2)},
            "uptime": rfc3339_millis(runtime.started_at),
            "versionInfo": {
                "branch": "",
                "buildDate": "",
                "buildUser": "opsbook",
                "goVersion": "",
                "revision": "",
                "version": f"opsbook-{__version__}",
            },
        }
    )


async def get_receivers(request: Request) -> Response:
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    names = [channel.name for channel in _runtime(request).config.channels]
    return JSONResponse([{"name": name} for name in [*names, "incidents"]])


ROUTES = (
    ("/api/v2/alerts", get_alerts, ["GET"]),
    ("/api/v2/silences", get_silences, ["GET"]),
    ("/api/v2/silences", post_silences, ["POST"]),
    ("/api/v2/silence/{silence_id}", get_silence, ["GET"]),
    ("/api/v2/silence/{silence_id}", delete_silence, ["DELETE"]),
    ("/api/v2/status", get_status, ["GET"]),
    ("/api/v2/receivers", get_receivers, ["GET"]),
)
