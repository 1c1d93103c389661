"""PagerDuty Events API v2 (``POST /v2/enqueue``): trigger, acknowledge and resolve.

The routing key is the credential and names an integration of ``alerts.pagerduty``,
which maps it to a service.  Dedup is PagerDuty's: an event applies to the open alert
with its ``dedup_key`` *sent through the same routing key*; a trigger without a key is a
new alert (its key, generated, is returned); acknowledge and resolve for no open alert
are dropped.  Errors answer 400 with PagerDuty's body::

    {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from opsbook.alerts.config import PagerDutyIntegrationConfig
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.labels import parse_time

Action = Literal["trigger", "acknowledge", "resolve"]
ACTIONS: tuple[Action, ...] = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_BODY = 512 * 1024  # PagerDuty's size limit
SOURCE = "pagerduty"


class PagerDutyError(ValueError):
    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    action: Action
    integration: PagerDutyIntegrationConfig
    dedup_key: str  # as the sender knows it (returned in the 202)
    alert: AlertInput  # for acknowledge: only dedup_key matters

    @property
    def key(self) -> str:
        """The alert's dedup key inside Opsbook: scoped to the routing key's integration."""
        return internal_key(self.integration.name, self.dedup_key)


def internal_key(integration: str, dedup_key: str) -> str:
    return f"{SOURCE}:{integration}:{dedup_key}"


def find_integration(
    routing_key: str, integrations: Sequence[PagerDutyIntegrationConfig]
) -> PagerDutyIntegrationConfig | None:
    found = None
    given = routing_key.encode()
    for integration in integrations:  # every key compared, each in constant time
        if hmac.compare_digest(integration.routing_key.get_secret_value().encode(), given):
            found = integration
    return found


def _text(payload: dict[str, Any], name: str, errors: list[str], *, required: bool) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            errors.append(f"'payload.{name}' is missing or blank")
        return ""
    if not isinstance(value, str):
        errors.append(f"'payload.{name}' must be a string")
        return ""
    return value


def _context(data: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name, required in (("images", "src"), ("links", "href")):
        items = data.get(name)
        if items is None:
            continue
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get(required), str) for i in items
        ):
            errors.append(f"'{name}' must be a list of objects, each with '{required}'")
            continue
        extra[name] = items
    for name in ("client", "client_url"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(f"'{name}' must be a string")
    return extra


def parse_event(
    data: Any,
    *,
    integrations: Sequence[PagerDutyIntegrationConfig],
    service: str,
    now: datetime,
) -> PagerDutyEvent:
    """Validate one Events v2 event; raises :class:`PagerDutyError` listing every problem."""
    if not isinstance(data, dict):
        raise PagerDutyError(["Event object must be a JSON object"])
    errors: list[str] = []
    routing_key = data.get("routing_key")
    integration = None
    if not isinstance(routing_key, str) or not routing_key:
        errors.append("'routing_key' is missing or blank")
    else:
        integration = find_integration(routing_key, integrations)
        if integration is None:
            errors.append("Invalid routing key")
    action = data.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > MAX_DEDUP_KEY):
        errors.append(f"'dedup_key' must be a string of at most {MAX_DEDUP_KEY} characters")
        dedup_key = None
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    alert = None
    if action == "trigger":
        alert = _trigger(data, errors, integration, service, now, dedup_key)
    if errors or integration is None:
        raise PagerDutyError(errors)
    key = dedup_key or uuid.uuid4().hex
    if alert is None:  # acknowledge / resolve
        alert = AlertInput(
            labels={},
            ends_at=now if action == "resolve" else None,
            source=SOURCE,
            dedup_key=internal_key(integration.name, key),
        )
    else:
        alert = AlertInput(
            labels=alert.labels,
            annotations={**alert.annotations, "dedup_key": key},
            starts_at=alert.starts_at,
            source=SOURCE,
            dedup_key=internal_key(integration.name, key),
            extra=alert.extra,
        )
    return PagerDutyEvent(action=action, integration=integration, dedup_key=key, alert=alert)  # type: ignore[arg-type]


def _trigger(
    data: dict[str, Any],
    errors: list[str],
    integration: PagerDutyIntegrationConfig | None,
    service: str,
    now: datetime,
    dedup_key: str | None,
) -> AlertInput | None:
    payload = data.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or is not an object")
        return None
    summary = _text(payload, "summary", errors, required=True)
    if len(summary) > MAX_SUMMARY:
        errors.append(f"'payload.summary' is longer than {MAX_SUMMARY} characters")
    source = _text(payload, "source", errors, required=True)
    severity = payload.get("severity")
    if severity not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
        )
    optional = {
        name: _text(payload, name, errors, required=False)
        for name in ("component", "group", "class")
    }
    timestamp = None
    if payload.get("timestamp") is not None:
        try:
            timestamp = parse_time(payload["timestamp"], "'payload.timestamp'")
        except ValueError as exc:
            errors.append(str(exc))
    extra = _context(data, errors)
    if "custom_details" in payload:
        extra["custom_details"] = payload["custom_details"]
    if errors or integration is None:
        return None
    labels = {
        "alertname": optional["class"] or integration.alertname or integration.name,
        "service": integration.service or service,
        "integration": integration.name,
        "severity": str(severity),
        "source": source,
        **{name: value for name, value in optional.items() if value},
        **integration.labels,
    }
    annotations = {"summary": summary}
    for name in ("client", "client_url"):
        if data.get(name):
            annotations[name] = data[name]
    return AlertInput(
        labels={k: v for k, v in labels.items() if v},
        annotations=annotations,
        starts_at=min(timestamp, now) if timestamp else now,
        source=SOURCE,
        extra=extra or None,
    )


def accepted(dedup_key: str) -> dict[str, str]:
    """The 202 body."""
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def invalid(errors: Sequence[str]) -> dict[str, Any]:
    """The 400 body."""
    return {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}


def throttled() -> dict[str, Any]:
    """The 429 body: retry after the ``Retry-After`` seconds."""
    return {
        "status": "throttle event",
        "message": "Requests for this service are arriving too quickly. Please retry later.",
        "errors": ["Rate limit exceeded"],
    }
