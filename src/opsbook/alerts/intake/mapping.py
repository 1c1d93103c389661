"""Any JSON webhook, mapped to alerts by the templates of ``alerts.webhooks[]``.

``each`` picks the list of alerts in the body (a dotted path; unset: the body is one
alert).  Templates are Jinja2 expressions over one item, with the whole body as
``body``; a missing field renders as nothing, and a label that renders empty is left
out (as Alertmanager drops empty labels).  docs/alerts.md maps Grafana's and Sentry's
payloads as examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jinja2

from opsbook.alerts.config import FieldTemplate, WebhookIntakeConfig
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.intake import IntakeError
from opsbook.alerts.labels import LABEL_NAME, parse_time

MAX_ALERTS = 1000


def resolve_path(data: Any, path: str) -> Any:
    """``alerts``, ``data.metric_alert``, ``items.0.labels``: None when a step is missing."""
    current = data
    for step in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
    return current


def _render(template: FieldTemplate, context: Mapping[str, Any], what: str) -> str:
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        raise IntakeError(f"{what}: the template failed: {exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise IntakeError(f"{what}: the template failed: {type(exc).__name__}: {exc}") from None


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise IntakeError(f"{what}: expected an object, got {type(value).__name__}")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items() if v is not None}


def map_alerts(body: Any, config: WebhookIntakeConfig, *, now: datetime) -> list[AlertInput]:
    source = f"webhook:{config.name}"
    if config.each:
        items = resolve_path(body, config.each)
        if not isinstance(items, list):
            raise IntakeError(f"{config.each}: expected a list of alerts in the body")
    else:
        items = [body]
    if len(items) > MAX_ALERTS:
        raise IntakeError(f"at most {MAX_ALERTS} alerts in one request")
    alerts = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]" if config.each else "alert"
        context: dict[str, Any] = dict(item) if isinstance(item, Mapping) else {"item": item}
        context["body"] = body
        labels = (
            _strings(resolve_path(item, config.labels_from), f"{where}.labels_from")
            if config.labels_from
            else {}
        )
        annotations = (
            _strings(resolve_path(item, config.annotations_from), f"{where}.annotations_from")
            if config.annotations_from
            else {}
        )
        for name, template in config.labels.items():
            labels[name] = _render(template, context, f"{where}.labels.{name}")
        for name, template in config.annotations.items():
            annotations[name] = _render(template, context, f"{where}.annotations.{name}")
        labels = {k: v for k, v in labels.items() if v}
        annotations = {k: v for k, v in annotations.items() if v}
        bad = [name for name in [*labels, *annotations] if not LABEL_NAME.fullmatch(name)]
        if bad:
            raise IntakeError(f"{where}: invalid label or annotation name {bad[0]!r}")
        if not labels:
            raise IntakeError(f"{where}: the mapping gave no labels")
        resolved = (
            _render(config.resolved, context, f"{where}.resolved").lower() == "true"
            if config.resolved
            else False
        )
        try:
            starts_at = (
                parse_time(_render(config.starts_at, context, f"{where}.starts_at"), "starts_at")
                if config.starts_at
                else None
            )
            ends_at = (
                parse_time(_render(config.ends_at, context, f"{where}.ends_at"), "ends_at")
                if config.ends_at
                else None
            )
        except ValueError as exc:
            raise IntakeError(f"{where}: {exc}") from None
        if resolved:
            ends_at = min(ends_at or now, now)
        elif ends_at is not None and ends_at <= now:
            ends_at = None  # firing, whatever stale end the sender carried
        dedup = _render(config.dedup_key, context, f"{where}.dedup_key") if config.dedup_key else ""
        url = (
            _render(config.generator_url, context, f"{where}.generator_url")
            if config.generator_url
            else ""
        )
        alerts.append(
            AlertInput(
                labels=labels,
                annotations=annotations,
                starts_at=min(starts_at, now) if starts_at else None,
                ends_at=ends_at,
                generator_url=url,
                source=source,
                dedup_key=f"{source}:{dedup}" if dedup else None,
            )
        )
    return alerts
