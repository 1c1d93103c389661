"""Configuration of the alert pipeline (``alerts:`` in opsbook.yaml).

The routing tree, inhibition rules and timing knobs mean what they mean in
Alertmanager's ``route:`` and ``inhibit_rules:``, so an ``alertmanager.yml`` carries
over nearly line by line; ``channels:`` replaces ``receiver:`` and ``incident:`` is
Opsbook's own (open, update and resolve incidents).  Intake credentials live here too:
PagerDuty routing keys and tokens of mapped JSON webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jinja2
import jinja2.sandbox
from pydantic import Field, PlainSerializer, PlainValidator, SecretStr, WithJsonSchema

from opsbook.alerts.matchers import Matcher, MatcherError, parse_matcher
from opsbook.config.values import (
    ConfigModel,
    Duration,
    Slug,
    Text,
    describe,
    parse_duration,
)

Severity = Literal["P0", "P1", "P2", "P3"]
DEFAULT_SEVERITY_MAP: dict[str, Severity] = {
    "critical": "P1",
    "error": "P2",
    "warning": "P2",
    "info": "P3",
}


def _validate_matcher(value: object) -> Matcher:
    from pydantic_core import PydanticCustomError

    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "matcher",
            'expected a matcher like severity="critical", got {got}',
            {"got": describe(value)},
        )
    try:
        return parse_matcher(value)
    except MatcherError as exc:
        raise PydanticCustomError("matcher", "{message}", {"message": str(exc)}) from None


MatcherText = Annotated[
    Matcher,
    PlainValidator(_validate_matcher, json_schema_input_type=str),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ['severity="critical"', 'service=~"api|web"']}),
]

# Plain text out (labels, annotations): nothing here is ever rendered as HTML.
_TEMPLATES = jinja2.sandbox.ImmutableSandboxedEnvironment(
    autoescape=False, undefined=jinja2.ChainableUndefined
)


@dataclass(frozen=True, slots=True)
class FieldTemplate:
    """A Jinja2 expression over a JSON payload, compiled once at load."""

    source: str
    template: jinja2.Template

    def render(self, context: Mapping[str, Any]) -> str:
        return self.template.render(context).strip()


def _validate_template(value: object) -> FieldTemplate:
    from pydantic_core import PydanticCustomError

    if isinstance(value, FieldTemplate):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "template",
            "expected a template string like {example}, got {got}",
            {"example": '"{{ labels.alertname }}"', "got": describe(value)},
        )
    try:
        return FieldTemplate(value, _TEMPLATES.from_string(value))
    except jinja2.TemplateSyntaxError as exc:
        raise PydanticCustomError(
            "template", "invalid template: {message}", {"message": str(exc)}
        ) from None


Template = Annotated[
    FieldTemplate,
    PlainValidator(_validate_template, json_schema_input_type=str),
    PlainSerializer(lambda t: t.source, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["{{ labels.alertname }}"]}),
]


class IncidentRouteConfig(ConfigModel):
    """What a route does with incidents: open one per group, attach alerts, resolve it."""

    # The severity when the severity label is missing or not in severity_map.
    severity: Severity = "P2"
    severity_label: str = "severity"
    severity_map: dict[str, Severity] = dict(DEFAULT_SEVERITY_MAP)
    # Alerts with equal values of these labels share one incident; default: the route's
    # group_by.
    group_by: tuple[str, ...] | None = None
    # An alert joins its group's open incident if it was opened less than this ago;
    # unset: for as long as the incident is open.
    group_window: Duration | None = None
    title: Template = Field(
        default="{{ labels.alertname }}{% if labels.service %} on {{ labels.service }}{% endif %}",
        validate_default=True,
    )
    # The incident's service; default: the alert's `service` label, else service.name.
    service: Text | None = None
    # Resolve the incident when the last of its alerts resolves.
    resolve: bool = True


class RouteConfig(ConfigModel):
    """A node of the routing tree; unset keys are inherited from the parent route."""

    matchers: tuple[MatcherText, ...] = ()
    continue_: bool = Field(default=False, alias="continue")
    channels: tuple[Slug, ...] | None = None
    incident: IncidentRouteConfig | None = None
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: tuple[RouteConfig, ...] = ()


class InhibitRuleConfig(ConfigModel):
    """While a firing alert matches ``source_matchers``, alerts matching ``target_matchers``
    with the same values of the ``equal`` labels are muted."""

    source_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    target_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    equal: tuple[str, ...] = ()


class AlertmanagerApiConfig(ConfigModel):
    """The Alertmanager-compatible ``/api/v2`` endpoints."""

    # Without a token, Prometheus cannot post alerts; true lets anyone who can reach
    # Opsbook use /api/v2 (and the webhook receiver) without one: a trusted network only.
    public: bool = False


class PagerDutyIntegrationConfig(ConfigModel):
    """A routing key of ``POST /v2/enqueue``: the credential and the service it maps to."""

    name: Slug
    routing_key: SecretStr
    # The service its alerts belong to (the `service` label); default: service.name.
    service: Text | None = None
    # The `alertname` of its alerts when an event has no payload.class.
    alertname: Text | None = None
    labels: dict[str, str] = {}


class WebhookIntakeConfig(ConfigModel):
    """``POST /api/v1/alerts/webhook/NAME``: any JSON mapped to alerts by templates."""

    name: Slug
    token: SecretStr
    # A dotted path to the list of alerts in the body; unset: the body is one alert.
    each: str | None = None
    # Copy the entries of this object (a dotted path) as labels / annotations.
    labels_from: str | None = None
    annotations_from: str | None = None
    labels: dict[str, Template] = {}
    annotations: dict[str, Template] = {}
    # Renders "true" (any case) when the alert is resolved.
    resolved: Template | None = None
    starts_at: Template | None = None
    ends_at: Template | None = None
    # The identity of the alert; unset: its label set.
    dedup_key: Template | None = None
    generator_url: Template | None = None


class AlertsConfig(ConfigModel):
    """The alert pipeline: routing, inhibition, intake credentials and timing."""

    route: RouteConfig = RouteConfig()
    inhibit_rules: tuple[InhibitRuleConfig, ...] = ()
    # An alert posted to /api/v2/alerts without endsAt resolves this long after its
    # last update (Alertmanager's global resolve_timeout).
    resolve_timeout: Duration = parse_duration("5m")
    # Resolved alerts are kept this long, then deleted.
    keep_resolved: Duration = parse_duration("30d")
    alertmanager_api: AlertmanagerApiConfig = AlertmanagerApiConfig()
    pagerduty: tuple[PagerDutyIntegrationConfig, ...] = ()
    webhooks: tuple[WebhookIntakeConfig, ...] = ()


def check_alerts(
    data: Mapping[str, Any], channel_names: list[str]
) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-references inside ``alerts:`` as ``(location, message)`` pairs."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    alerts = data.get("alerts")
    if not isinstance(alerts, dict):
        return problems
    route = alerts.get("route")
    if isinstance(route, dict):
        problems += _route_channels(route, ("alerts", "route"), channel_names)
    for section, key in (("pagerduty", "name"), ("webhooks", "name")):
        seen: dict[Any, int] = {}
        items = alerts.get(section)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict) or not isinstance(item.get(key), str):
                continue
            if item[key] in seen:
                problems.append(
                    (
                        ("alerts", section, index, key),
                        f'"{item[key]}" is already defined at alerts.{section}[{seen[item[key]]}]',
                    )
                )
            seen.setdefault(item[key], index)
    keys: dict[str, int] = {}
    items = alerts.get("pagerduty")
    for index, item in enumerate(items if isinstance(items, list) else []):
        secret = item.get("routing_key") if isinstance(item, dict) else None
        if isinstance(secret, str) and not secret.strip("*"):
            continue  # a dumped (masked) config: the loader checked the real keys
        if isinstance(secret, str) and secret in keys:
            problems.append(
                (
                    ("alerts", "pagerduty", index, "routing_key"),
                    f"this routing key is already used by alerts.pagerduty[{keys[secret]}]",
                )
            )
        elif isinstance(secret, str):
            keys[secret] = index
    return problems


def _route_channels(
    route: Mapping[str, Any], loc: tuple[Any, ...], channel_names: list[str]
) -> list[tuple[tuple[Any, ...], str]]:
    problems = []
    channels = route.get("channels")
    for position, name in enumerate(channels if isinstance(channels, list) else []):
        if isinstance(name, str) and name not in channel_names:
            known = ", ".join(f'"{n}"' for n in channel_names) or "none"
            problems.append(
                ((*loc, "channels", position), f'no channel "{name}" is defined (defined: {known})')
            )
    children = route.get("routes")
    for index, child in enumerate(children if isinstance(children, list) else []):
        if isinstance(child, dict):
            problems += _route_channels(child, (*loc, "routes", index), channel_names)
    return problems
