"""Typed values of opsbook.yaml and the strict base model every section builds on.

Each value type is an ``Annotated`` alias: models hold the typed value (``timedelta``,
``float``, ``ZoneInfo``, ...) and ``model_dump(mode="json")`` writes the YAML string form back.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

DURATION_HINT = "expected a duration like 30s, 5m, 2h, 1d"
# Milliseconds are for probe timeouts and latency thresholds (``timeout: 500ms``).
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_UNIT_MS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def describe(value: object) -> str:
    """Render a YAML input value for an error message: ``"5 minutes"``, ``30``, ``a list``."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def located_error(key: str, error_type: str, message: str) -> PydanticCustomError:
    """An error a model validator raises about one of its keys.

    Pydantic locates model-level errors at the model; the loader moves an error carrying
    ``at_key`` to that key, so ``raise located_error("ack_within", ...)`` points at the value.
    """
    # pydantic only substitutes the context's own keys, so user text with braces is safe.
    return PydanticCustomError(error_type, message, {"at_key": key})


def _invalid(error_type: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(error_type, message)


def parse_duration(text: str) -> timedelta:
    """Parse ``30s``, ``5m``, ``2h``, ``1d``, ``1h30m`` or ``0s`` into a timedelta.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    match = _DURATION_RE.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{DURATION_HINT}, got {describe(text)}")
    milliseconds = sum(
        int(amount) * unit
        for amount, (_, unit) in zip(match.groups(), _UNIT_MS, strict=True)
        if amount
    )
    return timedelta(milliseconds=milliseconds)


def format_duration(value: timedelta) -> str:
    """Write a timedelta the way opsbook.yaml spells it: 5400 s -> ``"1h30m"``, 0 -> ``"0s"``."""
    if value < timedelta(0) or value.microseconds % 1000:
        raise ValueError(f"cannot write {value!r} as a whole, non-negative number of milliseconds")
    remaining = value // timedelta(milliseconds=1)
    parts = []
    for suffix, unit in _UNIT_MS:
        amount, remaining = divmod(remaining, unit)
        if amount:
            parts.append(f"{amount}{suffix}")
    return "".join(parts) or "0s"


def _validate_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        if value < timedelta(0) or value.microseconds % 1000:
            raise _invalid(
                "duration", f"{DURATION_HINT}, got a negative or sub-millisecond duration"
            )
        return value
    if not isinstance(value, str):
        raise _invalid("duration", f"{DURATION_HINT}, got {describe(value)}")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _invalid("duration", str(exc)) from None


def _validate_percent(value: object) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = Decimal(value.strip()[:-1].strip())
        except InvalidOperation:
            number = Decimal(-1)
        if number.is_finite() and 0 <= number <= 100:
            return float(number / 100)
    raise _invalid(
        "percent", f"expected a percentage from 0% to 100% like 5%, got {describe(value)}"
    )


def _format_percent(value: float) -> str:
    return f"{(Decimal(repr(value)) * 100).normalize():f}%"


def _validate_time_zone(value: object) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if isinstance(value, str) and value:
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise _invalid(
        "time_zone",
        f"expected an IANA time zone name like Europe/Berlin or UTC, got {describe(value)}",
    )


def _string_checker(error_type: str, expected: str, pattern: str) -> PlainValidator:
    compiled = re.compile(pattern)

    def check(value: object) -> str:
        if isinstance(value, str) and compiled.fullmatch(value):
            return value
        raise _invalid(error_type, f"expected {expected}, got {describe(value)}")

    return PlainValidator(check, json_schema_input_type=str)


def _validate_phone(value: object) -> str:
    if isinstance(value, str):
        compact = re.sub(r"[\s().-]", "", value)
        if re.fullmatch(r"\+[1-9]\d{6,14}", compact):
            return compact
    raise _invalid(
        "phone", f"expected an international phone number like +14155550123, got {describe(value)}"
    )


def _string_schema(**extra: Any) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", **extra})


Duration = Annotated[
    timedelta,
    PlainValidator(_validate_duration, json_schema_input_type=str),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    _string_schema(pattern=_DURATION_RE.pattern, examples=["30s", "5m", "2h", "1d"]),
]
Percent = Annotated[
    float,
    PlainValidator(_validate_percent, json_schema_input_type=str),
    PlainSerializer(_format_percent, return_type=str, when_used="json"),
    _string_schema(examples=["5%", "99.9%"]),
]
TimeZoneName = Annotated[
    ZoneInfo,
    PlainValidator(_validate_time_zone, json_schema_input_type=str),
    PlainSerializer(lambda zone: zone.key, return_type=str, when_used="json"),
    _string_schema(examples=["UTC", "Europe/Berlin"]),
]
HttpURL = Annotated[
    str,
    _string_checker("url", "an http:// or https:// URL", r"https?://[^\s/?#]+[^\s]*"),
    _string_schema(format="uri"),
]
EmailAddress = Annotated[
    str,
    _string_checker(
        "email", "an email address like ann@example.com", r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+"
    ),
    _string_schema(format="email"),
]
# `From` headers carry a display name too: "Opsbook <opsbook@example.com>".
Mailbox = Annotated[
    str,
    _string_checker(
        "email",
        'an email address, optionally with a name: "Opsbook <opsbook@example.com>"',
        r"(?:[^<>]*<[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+>|[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+)",
    ),
    _string_schema(),
]
Slug = Annotated[
    str,
    _string_checker(
        "slug",
        'a lowercase name of letters, digits, ".", "_" or "-" like ann or on-call',
        r"[a-z0-9][a-z0-9._-]*",
    ),
    _string_schema(pattern=r"^[a-z0-9][a-z0-9._-]*$"),
]
Text = Annotated[
    str, _string_checker("text", "a non-empty string", r"(?s).*\S.*"), _string_schema()
]


def _validate_regex(value: object) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise _invalid("regex", f"expected a regular expression, got {describe(value)}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise _invalid("regex", f"invalid regular expression {describe(value)}: {exc}") from None


# Compiled at load, so a bad pattern is a located config error rather than a failing check.
Regex = Annotated[
    re.Pattern[str],
    PlainValidator(_validate_regex, json_schema_input_type=str),
    PlainSerializer(lambda pattern: pattern.pattern, return_type=str, when_used="json"),
    _string_schema(format="regex"),
]
PhoneNumber = Annotated[
    str, PlainValidator(_validate_phone, json_schema_input_type=str), _string_schema()
]

TargetKind = Literal["oncall", "channel", "person", "team", "status_page", "stakeholders"]
TARGET_HINT = (
    "expected a target like oncall:primary, oncall:secondary, channel:NAME, person:ID, "
    "team:NAME, status_page or stakeholders"
)
_TARGET_RE = re.compile(
    r"(?P<kind>oncall):(?P<role>primary|secondary)"
    r"|(?P<ref>channel|person|team):(?P<name>[a-z0-9][a-z0-9._-]*)"
    r"|(?P<bare>status_page|stakeholders)"
)


@dataclass(frozen=True, slots=True)
class Target:
    """Whom or what a severity level notifies: ``Target.parse("channel:incidents")``."""

    kind: TargetKind
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> Target:
        match = _TARGET_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{TARGET_HINT}, got {describe(text)}")
        if match["kind"]:
            return cls("oncall", match["role"])
        if match["ref"]:
            return cls(typing.cast(TargetKind, match["ref"]), match["name"])
        return cls(typing.cast(TargetKind, match["bare"]))

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


def _validate_target(value: object) -> Target:
    if isinstance(value, Target):
        return value
    if isinstance(value, str):
        try:
            return Target.parse(value)
        except ValueError as exc:
            raise _invalid("target", str(exc)) from None
    raise _invalid("target", f"{TARGET_HINT}, got {describe(value)}")


TargetRef = Annotated[
    Target,
    PlainValidator(_validate_target, json_schema_input_type=str),
    PlainSerializer(str, return_type=str, when_used="json"),
    _string_schema(examples=["oncall:primary", "channel:incidents", "status_page"]),
]


_FILE_KEY_SUFFIX = "_file"


class ConfigModel(BaseModel):
    """Base of every opsbook.yaml section: unknown keys are errors, values are immutable.

    Every ``SecretStr`` field ``password`` also accepts ``password_file: PATH``: the file's
    content (without its trailing newline) becomes the value. Relative paths are resolved
    against the ``config_dir`` validation context (the loader passes the file's directory).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def secret_keys(cls) -> tuple[str, ...]:
        """The YAML keys of this model's secret fields, e.g. ``("password",)``."""
        return tuple(
            field.alias or name
            for name, field in cls.model_fields.items()
            if _holds_secret(field.annotation)
        )

    @classmethod
    def yaml_keys(cls) -> tuple[str, ...]:
        """Every key this model accepts in YAML, ``*_file`` secret keys included."""
        keys = [field.alias or name for name, field in cls.model_fields.items()]
        keys += [key + _FILE_KEY_SUFFIX for key in cls.secret_keys()]
        return tuple(keys)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        file_keys = [k + _FILE_KEY_SUFFIX for k in cls.secret_keys()]
        if not any(k in data for k in file_keys):
            return data
        data = dict(data)
        config_dir = (info.context or {}).get("config_dir")
        for key in cls.secret_keys():
            file_key = key + _FILE_KEY_SUFFIX
            if file_key not in data:
                continue
            if key in data:
                raise located_error(
                    file_key, "secret_file", f'give either "{key}" or "{file_key}", not both'
                )
            data[key] = _read_secret_file(data.pop(file_key), file_key, config_dir)
        return data


def _holds_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_holds_secret(arg) for arg in typing.get_args(annotation))
    return False


def _read_secret_file(raw_path: object, file_key: str, config_dir: object) -> str:
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise located_error(
            file_key, "secret_file", f"expected a file path, got {describe(raw_path)}"
        )
    path = Path(raw_path).expanduser()
    if not path.is_absolute() and isinstance(config_dir, str | Path):
        path = Path(config_dir) / path
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise located_error(
            file_key, "secret_file", f'cannot read secret file "{path}": {reason}'
        ) from None
    secret = content.rstrip("\r\n")
    if not secret:
        raise located_error(file_key, "secret_file", f'secret file "{path}" is empty')
    return secret


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _validate_headers(headers: dict[str, str]) -> dict[str, str]:
    for header, value in headers.items():
        if not _HEADER_NAME.fullmatch(header):
            raise ValueError(f'"{header}" is not a valid HTTP header name')
        # A line break would let a value smuggle in a header (or a request) of its own.
        if "\r" in value or "\n" in value:
            raise ValueError(f'the value of "{header}" contains a line break')
    return headers


# Extra HTTP request headers (webhook channels, http checks): names and values checked.
HttpHeaders = Annotated[dict[str, str], AfterValidator(_validate_headers)]
