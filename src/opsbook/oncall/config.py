"""The ``oncall:`` section of opsbook.yaml and people's ``contact:`` methods.

Schedules hold wall-clock times and a zone name, never an offset: a rotation handing
off "Monday 09:00 Europe/Berlin" does so at 09:00 local all year (docs/oncall.md)::

    oncall:
      schedules:
        - name: platform
          timezone: Europe/Berlin
          layers:
            primary:
              - {people: [maya, dev], turn: weekly, start: 2026-01-05, handoff: "09:00"}
      policies:
        - name: default
          levels:
            - {targets: [oncall:primary], escalate_after: 5m}
            - {targets: [person:maya]}
      routes:
        - {schedule: platform, policy: default}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import Field, PlainSerializer, PlainValidator, field_validator, model_validator
from pydantic_core import PydanticCustomError

from opsbook.config.defaults import Severity
from opsbook.config.values import (
    ConfigModel,
    Duration,
    Slug,
    Text,
    TimeZoneName,
    describe,
    format_duration,
    located_error,
    parse_duration,
)

LAYERS: Final = ("primary", "secondary")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "weekdays": WEEKDAYS[:5],
    "weekends": WEEKDAYS[5:],
    "everyday": WEEKDAYS,
}
# A contact method is carried by a channel of the same kind; the address it pages comes
# from the person (email, phone, slack) unless the method gives its own `to`.
CONTACT_METHODS: Final = (
    "email",
    "sms",
    "voice",
    "slack",
    "ntfy",
    "telegram",
    "teams",
    "webhook",
    "console",
)
MIN_TURN = timedelta(hours=1)
MIN_ESCALATE_AFTER = timedelta(minutes=1)
MINUTES_PER_DAY = 24 * 60

TIME_HINT = 'expected a time of day like "09:00"'


def _invalid(error_type: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(error_type, message)


def _validate_time_of_day(value: object, *, allow_end_of_day: bool) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080.
        raise _invalid(
            "time_of_day",
            f"{TIME_HINT} in quotes (YAML read this unquoted time as the number {value})",
        )
    if isinstance(value, str):
        match = re.fullmatch(r"([01]?\d|2[0-4]):([0-5]\d)", value.strip())
        if match:
            minutes = int(match[1]) * 60 + int(match[2])
            if minutes < MINUTES_PER_DAY or (allow_end_of_day and minutes == MINUTES_PER_DAY):
                return minutes
    end = ' or "24:00"' if allow_end_of_day else ""
    raise _invalid("time_of_day", f"{TIME_HINT}{end}, got {describe(value)}")


def format_time_of_day(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


TimeOfDay = Annotated[
    int,
    PlainValidator(lambda v: _validate_time_of_day(v, allow_end_of_day=False)),
    PlainSerializer(format_time_of_day, return_type=str, when_used="json"),
]
EndTimeOfDay = Annotated[
    int,
    PlainValidator(lambda v: _validate_time_of_day(v, allow_end_of_day=True)),
    PlainSerializer(format_time_of_day, return_type=str, when_used="json"),
]


def _validate_start(value: object) -> date:
    if isinstance(value, datetime):
        raise _invalid(
            "start_date", "expected a date like 2026-01-05 (the time of day is `handoff`)"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _invalid("start_date", f"expected a date like 2026-01-05, got {describe(value)}")


StartDate = Annotated[
    date,
    PlainValidator(_validate_start),
    PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json"),
]

_NAMED_TURNS: Final = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def _validate_turn(value: object) -> timedelta:
    if isinstance(value, timedelta):
        turn = value
    elif isinstance(value, str) and value.strip() in _NAMED_TURNS:
        turn = _NAMED_TURNS[value.strip()]
    elif isinstance(value, str):
        try:
            turn = parse_duration(value)
        except ValueError:
            turn = timedelta(0)
    else:
        turn = timedelta(0)
    if turn < MIN_TURN or turn % timedelta(minutes=1):
        raise _invalid(
            "turn",
            f"expected daily, weekly or a duration of at least 1h in whole minutes "
            f"like 12h or 3d, got {describe(value)}",
        )
    return turn


def _format_turn(turn: timedelta) -> str:
    names = {v: k for k, v in _NAMED_TURNS.items()}
    return names.get(turn, format_duration(turn))


Turn = Annotated[
    timedelta,
    PlainValidator(_validate_turn),
    PlainSerializer(_format_turn, return_type=str, when_used="json"),
]


def _validate_days(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise _invalid(
            "days", f"expected a list of days like [mon, tue] or weekdays, got {describe(value)}"
        )
    days: list[str] = []
    for item in items:
        text = item.strip().lower() if isinstance(item, str) else None
        if text in DAY_GROUPS:
            days += DAY_GROUPS[text]
        elif text in WEEKDAYS:
            days.append(text)
        else:
            raise _invalid(
                "days",
                f"expected mon, tue, wed, thu, fri, sat, sun, weekdays, weekends or everyday, "
                f"got {describe(item)}",
            )
    return tuple(day for day in WEEKDAYS if day in days)


Days = Annotated[
    tuple[str, ...],
    PlainValidator(_validate_days),
    PlainSerializer(list, return_type=list, when_used="json"),
]


class RestrictionConfig(ConfigModel):
    """A window the rotation covers, in the schedule's zone: ``{days: weekdays, from, to}``.

    ``to`` at or before ``from`` ends the next day (``from: "18:00", to: "09:00"``).
    """

    days: Days = WEEKDAYS
    from_: TimeOfDay = Field(alias="from")
    to: EndTimeOfDay

    @model_validator(mode="after")
    def _not_empty(self) -> RestrictionConfig:
        if self.from_ == self.to % MINUTES_PER_DAY and self.to != MINUTES_PER_DAY:
            raise located_error("to", "restriction", "must differ from `from`")
        return self


class RotationConfig(ConfigModel):
    """People taking turns: turn *k* starts at ``start`` + *k* turns, at ``handoff`` local."""

    name: Slug | None = None
    people: tuple[Slug, ...] = Field(min_length=1)
    turn: Turn = timedelta(days=7)
    start: StartDate
    handoff: TimeOfDay = 9 * 60
    restrictions: tuple[RestrictionConfig, ...] = ()


class LayersConfig(ConfigModel):
    """The schedule's two roles; within a layer a later rotation wins where it covers."""

    primary: tuple[RotationConfig, ...] = Field(min_length=1)
    secondary: tuple[RotationConfig, ...] = ()

    def of(self, layer: str) -> tuple[RotationConfig, ...]:
        rotations: tuple[RotationConfig, ...] = getattr(self, layer)
        return rotations

    def defined(self) -> tuple[str, ...]:
        return tuple(layer for layer in LAYERS if self.of(layer))


class ScheduleConfig(ConfigModel):
    """Who is on call, as layers of rotations in one time zone."""

    name: Slug
    description: str = ""
    # None means the service's time zone.
    timezone: TimeZoneName | None = None
    layers: LayersConfig


PolicyTargetKind = Literal["oncall", "schedule", "person", "team"]
POLICY_TARGET_HINT = (
    "expected a target like oncall:primary, oncall:secondary, schedule:NAME, "
    "schedule:NAME/secondary, person:ID or team:NAME"
)
_POLICY_TARGET_RE = re.compile(
    r"oncall:(?P<role>primary|secondary)"
    r"|schedule:(?P<schedule>[a-z0-9][a-z0-9._-]*)(?:/(?P<layer>primary|secondary))?"
    r"|(?P<ref>person|team):(?P<name>[a-z0-9][a-z0-9._-]*)"
)


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    """Whom one escalation level pages: ``PolicyTarget.parse("schedule:platform/secondary")``."""

    kind: PolicyTargetKind
    name: str
    layer: str = "primary"

    @classmethod
    def parse(cls, text: str) -> PolicyTarget:
        match = _POLICY_TARGET_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{POLICY_TARGET_HINT}, got {describe(text)}")
        if match["role"]:
            return cls("oncall", "", match["role"])
        if match["schedule"]:
            return cls("schedule", match["schedule"], match["layer"] or "primary")
        return cls(match["ref"], match["name"])  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.kind == "oncall":
            return f"oncall:{self.layer}"
        if self.kind == "schedule":
            return f"schedule:{self.name}" + ("" if self.layer == "primary" else f"/{self.layer}")
        return f"{self.kind}:{self.name}"


def _validate_policy_target(value: object) -> PolicyTarget:
    if isinstance(value, PolicyTarget):
        return value
    if isinstance(value, str):
        try:
            return PolicyTarget.parse(value)
        except ValueError as exc:
            raise _invalid("policy_target", str(exc)) from None
    raise _invalid("policy_target", f"{POLICY_TARGET_HINT}, got {describe(value)}")


PolicyTargetRef = Annotated[
    PolicyTarget,
    PlainValidator(_validate_policy_target),
    PlainSerializer(str, return_type=str, when_used="json"),
]


class LevelConfig(ConfigModel):
    """One escalation level: page ``targets``; unacknowledged after ``escalate_after``, move on."""

    targets: tuple[PolicyTargetRef, ...] = Field(min_length=1)
    escalate_after: Duration = parse_duration("5m")
    # How a team:NAME target is paged: every member, or the next one in turn.
    team: Literal["all", "round_robin"] = "all"

    @field_validator("escalate_after")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta) -> timedelta:
        if value < MIN_ESCALATE_AFTER:
            raise ValueError("must be at least 1m")
        return value


class PolicyConfig(ConfigModel):
    """Levels paged one after another until someone acknowledges; then ``repeat`` times more."""

    name: Slug
    description: str = ""
    levels: tuple[LevelConfig, ...] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=9)


class RouteConfig(ConfigModel):
    """Which schedule and policy ``oncall:primary``/``oncall:secondary`` mean for an incident.

    The first route whose ``service`` and ``severities`` match (an absent one matches all)
    wins.
    """

    service: Text | None = None
    severities: tuple[Severity, ...] = ()
    schedule: Slug
    policy: Slug | None = None

    def matches(self, *, service: str | None, severity: str) -> bool:
        if self.service is not None and self.service != service:
            return False
        return not self.severities or severity in self.severities


class OncallConfig(ConfigModel):
    """Schedules, escalation policies, routes and the paging settings."""

    schedules: tuple[ScheduleConfig, ...] = ()
    policies: tuple[PolicyConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    # An acknowledged incident still only "acknowledged" this long after is paged again
    # (PagerDuty's acknowledgement timeout); null turns it off.
    retrigger_after: Duration | None = parse_duration("30m")
    # How long the acknowledge/resolve/escalate/open links in a page keep working.
    link_ttl: Duration = parse_duration("24h")

    def find_schedule(self, name: str) -> ScheduleConfig | None:
        return next((s for s in self.schedules if s.name == name), None)

    def find_policy(self, name: str) -> PolicyConfig | None:
        return next((p for p in self.policies if p.name == name), None)

    def route(self, *, service: str | None, severity: str) -> RouteConfig | None:
        """The route for an incident; without routes, the first schedule and policy."""
        for route in self.routes:
            if route.matches(service=service, severity=severity):
                return route
        if not self.routes and self.schedules:
            policy = self.policies[0].name if self.policies else None
            return RouteConfig(schedule=self.schedules[0].name, policy=policy)
        return None


class ContactMethodConfig(ConfigModel):
    """One way to page a person, and how long to wait before using it.

    ``{method: sms, channel: sms-gw, after: 2m}``: "SMS after 2 minutes if not
    acknowledged".  ``to`` overrides the address taken from the person.
    """

    method: Literal[
        "email", "sms", "voice", "slack", "ntfy", "telegram", "teams", "webhook", "console"
    ]
    channel: Slug
    after: Duration = timedelta(0)
    to: Text | None = None


# (location, noun, name, known names): a reference to check; noun "" carries a message.
Reference = tuple[tuple[str | int, ...], str, object, object]


def check_oncall_references(data: Any, known: dict[str, list[str]]) -> list[Reference]:
    """Reference checks of ``people[].contact`` and ``oncall``, as (loc, noun, name, names).

    ``schema.cross_check`` turns each into a located "no X named" problem; the checks
    that are not plain references come back with noun ``""`` and their message as name.
    """
    found: list[Reference] = []
    channels = {
        c.get("name"): c.get("kind") for c in data.get("channels") or [] if isinstance(c, dict)
    }
    for index, person in _items(data.get("people")):
        for position, method in _items(person.get("contact")):
            loc: tuple[str | int, ...] = ("people", index, "contact", position)
            name = method.get("channel")
            found.append(((*loc, "channel"), "channel", name, known["channels"]))
            kind = channels.get(name)
            wanted = method.get("method")
            if isinstance(kind, str) and isinstance(wanted, str) and kind != wanted:
                found.append(
                    (
                        (*loc, "method"),
                        "",
                        f'channel "{name}" is of kind {kind}, not {wanted}',
                        None,
                    )
                )
            if wanted in ("sms", "voice") and not method.get("to") and not person.get("phone"):
                found.append(
                    ((*loc, "method"), "", f"{wanted} needs the person's phone (or a `to`)", None)
                )
    oncall = data.get("oncall")
    if not isinstance(oncall, dict):
        return found
    schedules: dict[str, set[str]] = {}
    for index, schedule in _items(oncall.get("schedules")):
        name = schedule.get("name")
        if isinstance(name, str) and name in schedules:
            found.append(
                (
                    (("oncall", "schedules", index, "name")),
                    "",
                    f'schedule "{name}" is defined twice',
                    None,
                )
            )
        raw_layers = schedule.get("layers")
        layers: dict[str, Any] = raw_layers if isinstance(raw_layers, dict) else {}
        if isinstance(name, str):
            schedules[name] = {layer for layer in LAYERS if layers.get(layer)}
        for layer in LAYERS:
            for r_index, rotation in _items(layers.get(layer)):
                people = rotation.get("people")
                for p_index, person in enumerate(people if isinstance(people, list) else []):
                    loc = (
                        "oncall",
                        "schedules",
                        index,
                        "layers",
                        layer,
                        r_index,
                        "people",
                        p_index,
                    )
                    found.append((loc, "person", person, known["people"]))
    policies: list[str] = []
    for index, policy in _items(oncall.get("policies")):
        name = policy.get("name")
        if isinstance(name, str) and name in policies:
            found.append(
                (
                    ("oncall", "policies", index, "name"),
                    "",
                    f'policy "{name}" is defined twice',
                    None,
                )
            )
        if isinstance(name, str):
            policies.append(name)
        for l_index, level in _items(policy.get("levels")):
            targets = level.get("targets")
            for t_index, text in enumerate(targets if isinstance(targets, list) else []):
                loc = ("oncall", "policies", index, "levels", l_index, "targets", t_index)
                found += _policy_target_problems(loc, text, schedules, known)
    for index, route in _items(oncall.get("routes")):
        loc = ("oncall", "routes", index)
        found.append(((*loc, "schedule"), "schedule", route.get("schedule"), list(schedules)))
        found.append(((*loc, "policy"), "policy", route.get("policy"), policies))
    return found


def _policy_target_problems(
    loc: tuple[str | int, ...],
    text: object,
    schedules: dict[str, set[str]],
    known: dict[str, list[str]],
) -> list[Reference]:
    try:
        target = PolicyTarget.parse(text) if isinstance(text, str) else None
    except ValueError:
        return []  # validation reports the grammar
    if target is None or target.kind == "oncall":
        return []
    if target.kind == "schedule":
        if target.name in schedules and target.layer not in schedules[target.name]:
            return [(loc, "", f'schedule "{target.name}" has no {target.layer} layer', None)]
        return [(loc, "schedule", target.name, list(schedules))]
    section = "people" if target.kind == "person" else "teams"
    return [(loc, target.kind, target.name, known[section])]


def _items(items: object) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(items, list):
        return []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]
