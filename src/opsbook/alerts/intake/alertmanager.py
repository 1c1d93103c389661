"""Alertmanager's formats: ``postableAlerts`` (``POST /api/v2/alerts``) and webhook v4.

Validation is Alertmanager 0.25's: empty label values are dropped, then an alert needs at
least one label, label and annotation names must be ``[a-zA-Z_][a-zA-Z0-9_]*``, values
strings, and ``endsAt`` must not be before ``startsAt``.  Unset ``startsAt`` is now (or
``endsAt``, if that is set); unset ``endsAt`` is now + ``resolve_timeout``, after which
the alert resolves unless it is sent again.  Unlike Alertmanager, which stores the valid
alerts of a batch and answers 400 for the rest, a batch with an invalid alert is refused
whole, so that a 400 always means "nothing stored".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opsbook.alerts.contract import AlertInput
from opsbook.alerts.intake import IntakeError
from opsbook.alerts.labels import LABEL_NAME, parse_time

MAX_ERRORS = 10
_KNOWN_NAMES: set[str] = set()  # names seen valid: most alerts reuse a handful


def _names_ok(mapping: dict[str, Any]) -> str | None:
    for name, value in mapping.items():
        if name not in _KNOWN_NAMES:
            if not LABEL_NAME.fullmatch(name):
                return f"invalid name {name!r}"
            if len(_KNOWN_NAMES) < 10_000:
                _KNOWN_NAMES.add(name)
        if not isinstance(value, str):
            return f"the value of {name!r} must be a string"
    return None


def _alert(item: Any, *, now: datetime, default_end: datetime, source: str) -> AlertInput:
    if not isinstance(item, dict):
        raise IntakeError("an alert must be a JSON object")
    labels = item.get("labels")
    if not isinstance(labels, dict):
        raise IntakeError("labels: required, an object of label names to values")
    if "" in labels.values():
        labels = {k: v for k, v in labels.items() if v != ""}
    if not labels:
        raise IntakeError("at least one label pair required")
    problem = _names_ok(labels)
    if problem:
        raise IntakeError(f"labels: {problem}")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise IntakeError("annotations: must be an object of names to values")
    problem = _names_ok(annotations)
    if problem:
        raise IntakeError(f"annotations: {problem}")
    raw_start, raw_end = item.get("startsAt"), item.get("endsAt")
    starts_at = parse_time(raw_start, "startsAt") if raw_start is not None else None
    ends_at = parse_time(raw_end, "endsAt") if raw_end is not None else None
    if starts_at is None:
        starts_at = ends_at or now
    if ends_at is None:
        ends_at = default_end
    elif ends_at < starts_at:
        raise IntakeError("start time must be before end time")
    generator_url = item.get("generatorURL") or ""
    if not isinstance(generator_url, str):
        raise IntakeError("generatorURL: must be a string")
    return AlertInput(
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=generator_url,
        source=source,
    )


def parse_alerts(
    data: Any, *, now: datetime, resolve_timeout: timedelta, source: str = "alertmanager"
) -> list[AlertInput]:
    """``POST /api/v2/alerts``: a JSON array of postable alerts."""
    if not isinstance(data, list):
        raise IntakeError("the body must be a JSON array of alerts")
    alerts, errors = [], []
    default_end = now + resolve_timeout  # one object for the batch: its stamp is formatted once
    for index, item in enumerate(data):
        try:
            alerts.append(_alert(item, now=now, default_end=default_end, source=source))
        except (IntakeError, ValueError) as exc:
            errors.append(f"alerts[{index}]: {exc}")
            if len(errors) >= MAX_ERRORS:
                break
    if errors:
        raise IntakeError("; ".join(errors))
    return alerts


def parse_webhook(
    data: Any, *, now: datetime, source: str = "alertmanager-webhook"
) -> list[AlertInput]:
    """An Alertmanager webhook notification (``"version": "4"``), as a receiver gets it.

    A firing alert stays firing until a notification says it resolved (Alertmanager
    sends those when the receiver has ``send_resolved: true``, its default).
    """
    if not isinstance(data, dict):
        raise IntakeError("the body must be an Alertmanager webhook object")
    if data.get("version") != "4":
        raise IntakeError(
            f'version: expected "4" (Alertmanager\'s webhook format), got {data.get("version")!r}'
        )
    items = data.get("alerts")
    if not isinstance(items, list):
        raise IntakeError("alerts: required, a list")
    alerts, errors = [], []
    for index, item in enumerate(items):
        try:
            alert = _alert(item, now=now, default_end=now, source=source)
            status = item.get("status")
            if status not in ("firing", "resolved"):
                raise IntakeError(f"status: expected firing or resolved, got {status!r}")
            raw_end = parse_time(item.get("endsAt"), "endsAt")
            ends_at = min(raw_end or now, now) if status == "resolved" else None
            alerts.append(
                AlertInput(
                    labels=alert.labels,
                    annotations=alert.annotations,
                    starts_at=alert.starts_at,
                    ends_at=ends_at,
                    generator_url=alert.generator_url,
                    source=source,
                )
            )
        except (IntakeError, ValueError) as exc:
            errors.append(f"alerts[{index}]: {exc}")
            if len(errors) >= MAX_ERRORS:
                break
    if errors:
        raise IntakeError("; ".join(errors))
    return alerts
