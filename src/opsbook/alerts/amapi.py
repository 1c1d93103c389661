"""The rest of Alertmanager's API v2, for Prometheus, ``amtool`` and Alertmanager UIs.

``POST /api/v2/alerts`` is served by :mod:`opsbook.alerts.intake.http`; these are the
reads and the silences, answered in Alertmanager's JSON (times as RFC 3339 with
milliseconds, ``status.state`` of alerts and silences):

- ``GET /api/v2/alerts`` (``active``, ``silenced``, ``inhibited``, ``unprocessed``,
  ``filter``, ``receiver``), sorted by fingerprint;
- ``GET /api/v2/alerts/groups`` (the same but ``unprocessed``), as Grafana's and
  Karma's Alertmanager views read them;
- ``GET|POST /api/v2/silences``, ``GET|DELETE /api/v2/silence/{id}``;
- ``GET /api/v2/status`` and ``GET /api/v2/receivers``.

Reads need a viewer token, changes a responder one (bearer, or basic auth with the token
as password), unless ``alerts.alertmanager_api.public`` is true.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsbook import __version__
from opsbook.alerts import silences as silencing
from opsbook.alerts.labels import parse_time, rfc3339_millis
from opsbook.alerts.matchers import Matcher, MatcherError, parse_all
from opsbook.alerts.models import Silence
from opsbook.alerts.routing import routing_tree
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


@dataclass(frozen=True)
class _Selection:
    """The query parameters ``GET /api/v2/alerts`` and ``/alerts/groups`` share."""

    active: bool
    silenced: bool
    inhibited: bool
    matchers: list[Matcher]
    receiver: re.Pattern[str] | None

    @classmethod
    def parse(cls, request: Request) -> _Selection:
        """Raises ValueError or re.error for a parameter Alertmanager would refuse."""
        active, silenced, inhibited = (_flag(request, n) for n in BOOL_PARAMS[:3])
        receiver = request.query_params.get("receiver")
        return cls(
            active,
            silenced,
            inhibited,
            parse_all(request.query_params.getlist("filter")),
            re.compile(f"(?:{receiver})") if receiver else None,
        )

    def keeps(self, view: AlertView) -> bool:
        mute = view.mute
        if not self.active and not mute.muted:
            return False
        if not self.silenced and mute.silenced_by:
            return False
        return self.inhibited or not mute.inhibited_by

    def keeps_receiver(self, name: str) -> bool:
        return self.receiver is None or self.receiver.fullmatch(name) is not None


async def _firing(request: Request, selection: _Selection) -> list[AlertView]:
    runtime = _runtime(request)

    def read() -> list[AlertView]:
        with runtime.db.read_session() as session:
            return list_alerts(
                session,
                config=runtime.config,
                now=runtime.clock.now(),
                state="firing",
                matchers=selection.matchers,
                limit=None,
            )

    return [view for view in await asyncio.to_thread(read) if selection.keeps(view)]


async def get_alerts(request: Request) -> Response:
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    try:
        selection = _Selection.parse(request)
        _flag(request, "unprocessed")
    except (ValueError, re.error) as exc:
        return _error(400, str(exc))
    out = [
        gettable_alert(view)
        for view in await _firing(request, selection)
        if any(selection.keeps_receiver(r) for r in view.receivers)
    ]
    out.sort(key=lambda alert: alert["fingerprint"])
    return JSONResponse(out)


async def get_alert_groups(request: Request) -> Response:
    """Alertmanager's ``alertGroups``: one per notify group and receiver (a channel of
    its route; ``incidents`` for a route that opens incidents), with its firing alerts.

    Groups are computed from the current routing tree, as Alertmanager's dispatcher holds
    them: an alert's routes, and their ``group_by`` labels.  Sorted by group labels, then
    receiver; alerts by fingerprint.  A group with no alert left after the filters is
    not listed.
    """
    refused = await _guard(request, "viewer")
    if refused is not None:
        return refused
    try:
        selection = _Selection.parse(request)
    except (ValueError, re.error) as exc:
        return _error(400, str(exc))
    tree = routing_tree(_runtime(request).config.alerts)
    groups: dict[tuple[str, str], tuple[Mapping[str, str], list[dict[str, Any]]]] = {}
    for view in await _firing(request, selection):
        alert = gettable_alert(view)
        for ref in tree.route(view.labels).groups:
            names = ref.route.channels if ref.kind == "notify" else ("incidents",)
            for name in names:
                if not selection.keeps_receiver(name):
                    continue
                entry = groups.setdefault((ref.key_hash, name), (ref.labels, []))
                entry[1].append(alert)
    out: list[dict[str, Any]] = []
    for (_, name), (labels, alerts) in groups.items():
        alerts.sort(key=lambda a: a["fingerprint"])
        out.append({"alerts": alerts, "labels": dict(labels), "receiver": {"name": name}})
    out.sort(key=lambda g: (sorted(g["labels"].items()), g["receiver"]["name"]))
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
    ("/api/v2/alerts/groups", get_alert_groups, ["GET"]),
    ("/api/v2/silences", get_silences, ["GET"]),
    ("/api/v2/silences", post_silences, ["POST"]),
    ("/api/v2/silence/{silence_id}", get_silence, ["GET"]),
    ("/api/v2/silence/{silence_id}", delete_silence, ["DELETE"]),
    ("/api/v2/status", get_status, ["GET"]),
    ("/api/v2/receivers", get_receivers, ["GET"]),
)
