"""Label sets the way Alertmanager treats them: names, fingerprints, keys and times.

Alertmanager identifies an alert by its label set.  Two values derive from it here:

- :func:`fingerprint` is Alertmanager's own (FNV-1a 64 over the sorted pairs, as
  ``prometheus/common/model`` computes it), shown wherever Alertmanager would show one:
  the v2 API, webhook payloads, the UI.  It is pure Python and costs ~20 µs, so it is
  computed when an alert is shown, never on the intake path.
- :func:`label_key` is the dedup key the database enforces: the label set's sorted JSON
  itself (which is also what is stored), cut and signed with a digest when it is long.
  Equal label sets have equal keys; it is never shown to anyone.

Times follow Go: ``0001-01-01T00:00:00Z`` is "unset", and output is RFC 3339 in UTC.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

# Alertmanager 0.25 (and Prometheus) accept only these label names.
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1
_SEPARATOR = b"\xff"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_FINGERPRINTS: dict[tuple[tuple[str, str], ...], str] = {}
_FINGERPRINT_CACHE_SIZE = 50_000
# The longest label-set text that is its own dedup key (see label_key).
NATURAL_KEY_MAX = 200


def canonical(labels: Mapping[str, str]) -> bytes:
    """The sorted pairs as bytes, each name and value followed by a 0xff separator."""
    return b"".join(
        name.encode() + _SEPARATOR + labels[name].encode() + _SEPARATOR for name in sorted(labels)
    )


# The reference encoding (dedup keys are hashes of it, so it must never change).
_LABELS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def labels_json(labels: Mapping[str, str]) -> str:
    """The label set as compact JSON with sorted keys: stored as it is, and hashed.

    orjson writes exactly the reference text for label sets of printable ASCII (the
    usual case, 8x faster); anything else (non-ASCII, DEL, which the reference
    escapes) is left to the reference encoder.
    """
    if type(labels) is dict:
        try:
            text = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # a name that is not a string: the reference coerces it
            pass
        else:
            if text.isascii() and "\x7f" not in text:
                return text
    return _LABELS_ENCODER.encode(labels)


def label_key(labels: Mapping[str, str], encoded: str | None = None) -> str:
    """The dedup key of a label set, equal exactly for equal label sets: its sorted JSON
    (:func:`labels_json`) when that is at most :data:`NATURAL_KEY_MAX` characters, else
    the text's first characters, ``#`` and a 128-bit BLAKE2b digest of the whole text,
    :data:`NATURAL_KEY_MAX` characters in all (a short key ends with ``}``, a long one
    with a hex digit, so the two kinds never meet).

    The text, rather than a digest of it, keeps the unique index of open alerts in the
    order alerts have: a rule's alerts share their leading labels, so a batch of them
    lands on a few index pages.  Digests put every alert on a page of its own, which
    was most of what SQLite wrote per alert (see docs/performance.md).

    ``encoded`` is :func:`labels_json` of the labels when the caller has it already.
    """
    text = encoded if encoded is not None else labels_json(labels)
    if len(text) <= NATURAL_KEY_MAX:
        return text
    digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return text[: NATURAL_KEY_MAX - len(digest) - 1] + "#" + digest


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set, as 16 lowercase hex digits.

    >>> fingerprint({"name": "garland, briggs", "fear": "love is not enough"})
    '507a62d79ee76c9a'
    """
    items = tuple(sorted(labels.items()))
    found = _FINGERPRINTS.get(items)
    if found is not None:
        return found
    value = _FNV_OFFSET
    for byte in canonical(labels):
        value = ((value ^ byte) * _FNV_PRIME) & _MASK64
    found = f"{value:016x}"
    if len(_FINGERPRINTS) >= _FINGERPRINT_CACHE_SIZE:
        _FINGERPRINTS.clear()
    _FINGERPRINTS[items] = found
    return found


def sort_key(labels: Mapping[str, str], encoded: str | None = None) -> bytes:
    """Orders alerts the way Alertmanager lists a group: by job, then instance, then labels."""
    job, instance = labels.get("job"), labels.get("instance")
    text = encoded if encoded is not None else labels_json(labels)
    return (
        (b"\x00" + job.encode() if job is not None else b"\x01")
        + b"\x00"
        + (b"\x00" + instance.encode() if instance is not None else b"\x01")
        + b"\x00"
        + text.encode()
    )


def go_quote(value: str) -> str:
    """A string quoted the way Go's ``%q`` writes printable text."""
    return json.dumps(value, ensure_ascii=False)


def label_set_string(labels: Mapping[str, str]) -> str:
    """``{alertname="Down", service="api"}``: Alertmanager's rendering of a label set."""
    return "{" + ", ".join(f"{name}={go_quote(labels[name])}" for name in sorted(labels)) + "}"


def invalid_label_names(labels: Mapping[str, str]) -> list[str]:
    return [name for name in labels if not LABEL_NAME.fullmatch(name)]


def parse_time(value: object, what: str) -> datetime | None:
    """An RFC 3339 time from JSON; ``None`` for absent, empty or Go's zero time.

    Raises ``ValueError`` with a message naming ``what`` for anything else.
    """
    if value is None or value == "" or value == GO_ZERO_TIME:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an RFC 3339 time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} is not an RFC 3339 time: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{what} needs a time zone (Z or an offset): {value[:64]!r}")
    if parsed.year <= 1:
        return None
    return parsed.astimezone(UTC)


def rfc3339(value: datetime | None) -> str:
    """Go's ``RFC3339Nano`` in UTC (what Alertmanager's webhook JSON carries)."""
    if value is None:
        return GO_ZERO_TIME
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def rfc3339_millis(value: datetime | None) -> str:
    """``2026-11-22T09:00:00.000Z``: the format of Alertmanager's v2 API times."""
    if value is None:
        return "0001-01-01T00:00:00.000Z"
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond // 1000:03d}Z"
