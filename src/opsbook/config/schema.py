"""The models of opsbook.yaml.

Every section lives here except the channel kinds, whose models sit next to their transports
in ``opsbook.notify.<kind>.config``. Cross-references (a team member, a ``channel:NAME``
target) are checked by :func:`cross_check` on the plain data, so the loader can report them
together with every other error even when parts of the file do not validate.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from opsbook.alerts.config import AlertsConfig, check_alerts
from opsbook.alerts.rules.config import RuleConfig, RuleSettings, rule_problems
from opsbook.checks.config import CheckConfig
from opsbook.config.defaults import SEVERITIES, Severity, default_severity_levels
from opsbook.config.values import (
    ConfigModel,
    Duration,
    EmailAddress,
    HttpURL,
    PhoneNumber,
    Slug,
    Target,
    TargetRef,
    Text,
    TimeZoneName,
    located_error,
    parse_duration,
)
from opsbook.incidents.config import PostmortemSettings
from opsbook.metrics.config import MetricsConfig
from opsbook.notify.alertmanager_webhook.config import AlertmanagerWebhookChannelConfig
from opsbook.notify.console.config import ConsoleChannelConfig
from opsbook.notify.email.config import EmailChannelConfig
from opsbook.notify.ntfy.config import NtfyChannelConfig
from opsbook.notify.slack.config import SlackChannelConfig
from opsbook.notify.sms.config import SmsChannelConfig
from opsbook.notify.teams.config import TeamsChannelConfig
from opsbook.notify.telegram.config import TelegramChannelConfig
from opsbook.notify.voice.config import VoiceChannelConfig
from opsbook.notify.webhook.config import WebhookChannelConfig
from opsbook.oncall.config import ContactMethodConfig, OncallConfig, check_oncall_references
from opsbook.status.config import StatusPageConfig

# Adding a channel kind is one line here (plus its folder in opsbook.notify).
ChannelConfig = Annotated[
    ConsoleChannelConfig
    | EmailChannelConfig
    | WebhookChannelConfig
    | SlackChannelConfig
    | TeamsChannelConfig
    | TelegramChannelConfig
    | NtfyChannelConfig
    | SmsChannelConfig
    | VoiceChannelConfig
    | AlertmanagerWebhookChannelConfig,
    Field(discriminator="kind"),
]

CHANNEL_KINDS: Final[Mapping[str, type[ConfigModel]]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model
    for model in get_args(get_args(ChannelConfig)[0])
}


class ServiceConfig(ConfigModel):
    """The service Opsbook watches over."""

    name: Text
    description: str = ""
    url: HttpURL | None = None
    timezone: TimeZoneName = ZoneInfo("UTC")


class ComponentConfig(ConfigModel):
    """A part of the service shown on the status page."""

    name: Text
    description: str = ""
    group: Text | None = None


class PersonConfig(ConfigModel):
    """Someone who can be paged, and what they may do in Opsbook."""

    id: Slug
    name: Text
    email: EmailAddress
    # None means the service's time zone.
    timezone: TimeZoneName | None = None
    role: Literal["viewer", "responder", "admin"] = "responder"
    slack: Text | None = None
    phone: PhoneNumber | None = None
    # How to page this person, in order; each method may wait (`after: 2m`) for an ack.
    contact: tuple[ContactMethodConfig, ...] = ()


class TeamConfig(ConfigModel):
    """A named group of people; ``lead`` need not be a member."""

    name: Slug
    members: tuple[Slug, ...] = Field(min_length=1)
    lead: Slug | None = None


class SeverityLevel(ConfigModel):
    """What one severity means, how fast to respond, and whom to tell."""

    meaning: Text
    respond_within: Duration
    # None: the page must be acknowledged within respond_within.
    ack_within: Duration | None
    escalate_after: Duration
    notify: tuple[TargetRef, ...]
    escalate_to: tuple[TargetRef, ...]
    checklist: tuple[Text, ...]

    @model_validator(mode="after")
    def _ack_before_response(self) -> SeverityLevel:
        if self.ack_within is not None and self.ack_within > self.respond_within:
            raise located_error(
                "ack_within", "ack_within", "must not be longer than respond_within"
            )
        return self


class SeverityPolicy(ConfigModel):
    """The four levels; ``policy["P1"]`` reads one, ``policy.items()`` walks them in order."""

    P0: SeverityLevel
    P1: SeverityLevel
    P2: SeverityLevel
    P3: SeverityLevel

    def __getitem__(self, severity: Severity) -> SeverityLevel:
        level: SeverityLevel = getattr(self, severity)
        return level

    def items(self) -> Iterator[tuple[Severity, SeverityLevel]]:
        return ((severity, self[severity]) for severity in SEVERITIES)


def default_severity_policy() -> SeverityPolicy:
    """The runbooks' severity policy, as used when opsbook.yaml has no ``severities``."""
    return SeverityPolicy.model_validate(default_severity_levels())


class _RetrySettings(ConfigModel):
    max_attempts: int = Field(default=10, ge=1)
    backoff_base: Duration = parse_duration("10s")
    backoff_cap: Duration = parse_duration("1h")

    @model_validator(mode="after")
    def _cap_above_base(self) -> _RetrySettings:
        if self.backoff_cap < self.backoff_base:
            raise located_error("backoff_cap", "backoff", "must not be shorter than backoff_base")
        return self


class NotificationSettings(_RetrySettings):
    """How the outbox retries a notification that failed to deliver."""

    max_attempts: int = Field(default=12, ge=1)
    backoff_base: Duration = parse_duration("5s")


class JobSettings(_RetrySettings):
    """How durable jobs are retried and how long a worker holds one it claimed."""

    lease: Duration = parse_duration("60s")

    @model_validator(mode="after")
    def _lease_is_positive(self) -> JobSettings:
        if not self.lease:
            raise located_error("lease", "lease", "must be longer than 0s")
        return self


class CheckSettings(ConfigModel):
    """How checks are run and their results kept."""

    # A check of Opsbook's own connectivity (say, a well-known public site): while it fails
    # too, other failing checks are "unknown" rather than "down", so a network loss at
    # Opsbook pages no one.
    canary: Slug | None = None
    # How many probes may be in flight at once, across all checks.
    concurrency: int = Field(default=100, ge=1)
    # Raw results are kept this long; per-minute and per-day rollups much longer.
    keep_raw: Duration = parse_duration("7d")
    # Per-minute rollups cost ~0.25 MB per check per day; None keeps them as long as the
    # daily ones (400 days). Uptime over whole days stays exact from the daily rollups.
    keep_minute_rollups: Duration | None = None


class ProbeSettings(ConfigModel):
    """The blackbox_exporter-compatible ``GET /probe`` endpoint."""

    # Whoever may call /probe can make Opsbook open connections anywhere it can reach, so
    # it needs a viewer token unless this is true (a trusted network, a benchmark).
    public: bool = False


class SettingsConfig(ConfigModel):
    """How Opsbook itself runs."""

    public_url: HttpURL | None = None
    notifications: NotificationSettings = NotificationSettings()
    jobs: JobSettings = JobSettings()
    checks: CheckSettings = CheckSettings()
    probe: ProbeSettings = ProbeSettings()
    rules: RuleSettings = RuleSettings()


class OpsbookConfig(ConfigModel):
    """A validated opsbook.yaml. Build one with :func:`opsbook.config.load_config`."""

    version: Literal[1] = 1
    service: ServiceConfig
    components: tuple[ComponentConfig, ...] = ()
    people: tuple[PersonConfig, ...] = ()
    teams: tuple[TeamConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    checks: tuple[CheckConfig, ...] = ()
    metrics: MetricsConfig = MetricsConfig()
    rules: tuple[RuleConfig, ...] = ()
    alerts: AlertsConfig = AlertsConfig()
    severities: SeverityPolicy = Field(default_factory=default_severity_policy)
    status_page: StatusPageConfig = StatusPageConfig()
    postmortems: PostmortemSettings = PostmortemSettings()
    oncall: OncallConfig = OncallConfig()
    settings: SettingsConfig = SettingsConfig()

    @model_validator(mode="before")
    @classmethod
    def _apply_severity_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # `people:` with every entry commented out is an empty section, not a mistake; `x-`
        # keys hold YAML anchors for `<<:` merges, as in docker-compose files.
        data = {
            key: value
            for key, value in data.items()
            if (value is not None or key == "service") and not str(key).startswith("x-")
        }
        channels = data.get("channels")
        names = (
            [c.get("name") for c in channels if isinstance(c, dict)]
            if isinstance(channels, list)
            else []
        )
        data["severities"] = merge_severities(data.get("severities", {}), channel_names=names)
        return data

    @model_validator(mode="after")
    def _references_resolve(self) -> OpsbookConfig:
        problems = cross_check(self.model_dump(mode="json", by_alias=True))
        if problems:
            text = "; ".join(f"{render_loc(p.loc)}: {p.message}" for p in problems)
            # The loader reports cross_check's problems itself, each at its own location.
            raise PydanticCustomError("references", text, {"problems": problems})
        return self

    def find_person(self, person_id: str) -> PersonConfig | None:
        return next((p for p in self.people if p.id == person_id), None)

    def find_team(self, name: str) -> TeamConfig | None:
        return next((t for t in self.teams if t.name == name), None)

    def find_channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def find_check(self, name: str) -> CheckConfig | None:
        return next((c for c in self.checks if c.name == name), None)

    def find_rule(self, name: str) -> RuleConfig | None:
        return next((r for r in self.rules if r.name == name), None)


def merge_severities(user: Any, *, channel_names: list[Any]) -> Any:
    """Lay the levels and fields the user wrote over the defaults; leave anything odd as is.

    Defaults naming a channel the configuration lacks are dropped (see
    :func:`~opsbook.config.defaults.default_severity_levels`), so every target of a valid
    configuration resolves.
    """
    if not isinstance(user, dict):
        return user
    merged: dict[str, Any] = dict(user)
    defaults = default_severity_levels(
        channel_names=[n for n in channel_names if isinstance(n, str)]
    )
    for severity, default in defaults.items():
        given = user.get(severity)
        merged[severity] = (
            {**default, **given} if isinstance(given, dict) else default if given is None else given
        )
    return merged


Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """A cross-reference problem at ``loc`` in the opsbook.yaml data."""

    loc: Loc
    message: str


def cross_check(data: Mapping[str, Any]) -> list[Problem]:
    """Find repeated names and references to people, teams and channels that do not exist.

    Works on plain opsbook.yaml data and skips whatever is malformed (validation reports
    that), so it can run on a file that does not validate.
    """
    problems: list[Problem] = []
    known: dict[str, list[str]] = {}
    for section, key, noun in (
        ("components", "name", "component"),
        ("people", "id", "person id"),
        ("teams", "name", "team"),
        ("channels", "name", "channel"),
        ("checks", "name", "check"),
        ("rules", "name", "rule"),
    ):
        seen: dict[str, int] = {}
        for index, item in _items(data, section):
            name = item.get(key)
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(
                    Problem(
                        (section, index, key),
                        f'{noun} "{name}" is already defined at {section}[{seen[name]}]',
                    )
                )
            else:
                seen[name] = index
        known[section] = list(seen)

    for index, team in _items(data, "teams"):
        members = team.get("members")
        for position, member in enumerate(members if isinstance(members, list) else []):
            problems += _missing(
                ("teams", index, "members", position), "person", member, known["people"]
            )
        problems += _missing(("teams", index, "lead"), "person", team.get("lead"), known["people"])

    severities = data.get("severities")
    for severity, level in severities.items() if isinstance(severities, dict) else ():
        for field in ("notify", "escalate_to"):
            targets = level.get(field) if isinstance(level, dict) else None
            for position, text in enumerate(targets if isinstance(targets, list) else []):
                problems += _missing_target(("severities", severity, field, position), text, known)
    for loc, noun, name, names in check_oncall_references(data, known):
        if noun:
            problems += _missing(loc, noun, name, names if isinstance(names, list) else [])
        else:
            problems.append(Problem(loc, str(name)))
    problems += [Problem(loc, message) for loc, message in rule_problems(data, known)]
    problems += [Problem(loc, message) for loc, message in check_alerts(data, known["channels"])]
    return problems + _check_references(data, known)


def _check_references(data: Mapping[str, Any], known: dict[str, list[str]]) -> list[Problem]:
    problems: list[Problem] = []
    for index, check in _items(data, "checks"):
        problems += _missing(
            ("checks", index, "component"), "component", check.get("component"), known["components"]
        )
    settings = data.get("settings")
    checks = settings.get("checks") if isinstance(settings, dict) else None
    canary = checks.get("canary") if isinstance(checks, dict) else None
    loc: Loc = ("settings", "checks", "canary")
    problems += _missing(loc, "check", canary, known["checks"])
    postmortems = data.get("postmortems")
    remind = postmortems.get("remind") if isinstance(postmortems, dict) else None
    for position, text in enumerate(remind if isinstance(remind, list) else []):
        problems += _missing_target(("postmortems", "remind", position), text, known)
    for _, check in _items(data, "checks"):
        if check.get("name") == canary and check.get("heartbeat") is not None:
            problems.append(Problem(loc, f'the canary "{canary}" must probe, not be a heartbeat'))
    return problems + _check_status_page(data, known)


def _check_status_page(data: Mapping[str, Any], known: dict[str, list[str]]) -> list[Problem]:
    page = data.get("status_page")
    subscribers = page.get("subscribers") if isinstance(page, dict) else None
    channel = subscribers.get("email_channel") if isinstance(subscribers, dict) else None
    loc: Loc = ("status_page", "subscribers", "email_channel")
    problems = _missing(loc, "channel", channel, known["channels"])
    for _, item in _items(data, "channels"):
        if item.get("name") == channel and item.get("kind") != "email":
            problems.append(Problem(loc, f'channel "{channel}" is not of kind email'))
    return problems


_TARGET_SECTIONS: Final = {"channel": "channels", "person": "people", "team": "teams"}


def _missing_target(loc: Loc, text: object, known: dict[str, list[str]]) -> list[Problem]:
    try:
        target = Target.parse(text) if isinstance(text, str) else None
    except ValueError:
        return []  # validation reports the grammar
    if target is None or target.kind not in _TARGET_SECTIONS:
        return []
    return _missing(loc, target.kind, target.name, known[_TARGET_SECTIONS[target.kind]])


def _missing(loc: Loc, noun: str, name: object, names: list[str]) -> list[Problem]:
    if not isinstance(name, str) or name in names:
        return []
    message = f'no {noun} "{name}" is defined'
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        message += f', did you mean "{close[0]}"?'
    elif names:
        message += " (defined: " + ", ".join(f'"{n}"' for n in names) + ")"
    return [Problem(loc, message)]


def _items(data: Mapping[str, Any], section: str) -> Iterator[tuple[int, dict[str, Any]]]:
    items = data.get(section)
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield index, item


def render_loc(loc: Loc) -> str:
    """Render a location the way error messages show it: ``channels[1].smtp.host``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and not part[:1].isdigit():
            text += f".{part}" if text else part
        else:
            text += '["' + part.replace('"', '\\"') + '"]'
    return text


def model_at(path: Loc, data: Any) -> type[ConfigModel] | None:
    """The model that validates the mapping at ``path``, following ``kind`` in channel lists."""
    annotation: Any = OpsbookConfig
    node = data
    for part in path:
        model = _as_model(annotation, node)
        if model is not None:
            fields = {f.alias or name: f for name, f in model.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        else:
            container = _strip_annotated(annotation)
            args = typing.get_args(container)
            if typing.get_origin(container) in (list, tuple) and args:
                annotation = args[0]
            elif typing.get_origin(container) is dict and len(args) == 2:
                annotation = args[1]
            else:
                return None
        node = node.get(part) if isinstance(node, dict) else _index(node, part)
    return _as_model(annotation, node)


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _as_model(annotation: Any, node: Any) -> type[ConfigModel] | None:
    annotation = _strip_annotated(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [_as_model(arg, node) for arg in typing.get_args(annotation)]
        models = [m for m in members if m is not None]
        if len(models) == 1:
            return models[0]
        kind = node.get("kind") if isinstance(node, dict) else None
        return next((m for m in models if _kind_of(m) == kind), None)
    if inspect.isclass(annotation) and issubclass(annotation, ConfigModel):
        return annotation
    return None


def _kind_of(model: type[ConfigModel]) -> object:
    kind = model.model_fields.get("kind")
    return (
        typing.get_args(kind.annotation)[0] if kind and typing.get_args(kind.annotation) else None
    )


def _index(node: Any, part: str | int) -> Any:
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None
