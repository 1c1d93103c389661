"""Defaults taken from the seed runbooks (DESIGN.md, "Configuration").

They are written in the same form as opsbook.yaml, so a default and a value a user writes
go through the same validation. Change one only with a reason from the runbooks.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final, Literal

Severity = Literal["P0", "P1", "P2", "P3"]
SEVERITIES: Final[tuple[Severity, ...]] = ("P0", "P1", "P2", "P3")

# The seeds' response checklist, in the order the runbooks give it.
RESPONSE_CHECKLIST: Final[tuple[str, ...]] = (
    "Acknowledge alert",
    "Create incident channel",
    "Assess impact",
    "Mitigate",
    "Update status page",
    "Identify root cause",
    "Deploy fix",
    "Write postmortem",
)

# The runbooks name Slack's #incidents; an Opsbook channel of this name plays that part.
INCIDENTS_CHANNEL: Final = "incidents"

_SEVERITY_LEVELS: Final[dict[Severity, dict[str, Any]]] = {
    "P0": {
        "meaning": "Service down, data loss or breach, payments failing, or more than 50% of users",
        "respond_within": "15m",
        "ack_within": "5m",
        "escalate_after": "0s",
        "notify": [
            "oncall:primary",
            "oncall:secondary",
            f"channel:{INCIDENTS_CHANNEL}",
            "status_page",
            "stakeholders",
        ],
        # The runbooks escalate a P0 at once to the engineering lead and the CTO, whom only
        # the team can name: the defaults reach the backup on call and the stakeholders.
        "escalate_to": ["oncall:secondary", "stakeholders"],
        "checklist": list(RESPONSE_CHECKLIST),
    },
    "P1": {
        "meaning": "Partial outage or critical feature broken, more than 20% of users",
        "respond_within": "30m",
        "ack_within": None,
        "escalate_after": "1h",
        "notify": ["oncall:primary", f"channel:{INCIDENTS_CHANNEL}", "status_page"],
        "escalate_to": ["oncall:secondary"],
        "checklist": list(RESPONSE_CHECKLIST),
    },
    "P2": {
        "meaning": "Minor feature broken, fewer than 20% of users",
        "respond_within": "2h",
        "ack_within": None,
        "escalate_after": "4h",
        # The secondary handles P2s, so escalation goes to the primary.
        "notify": ["oncall:secondary", f"channel:{INCIDENTS_CHANNEL}"],
        "escalate_to": ["oncall:primary"],
        # No status page entry and no postmortem below P1.
        "checklist": [
            "Acknowledge alert",
            "Assess impact",
            "Mitigate",
            "Identify root cause",
            "Deploy fix",
        ],
    },
    "P3": {
        "meaning": "Cosmetic, or has a workaround",
        "respond_within": "24h",
        "ack_within": None,
        "escalate_after": "48h",
        "notify": [],  # recorded only
        "escalate_to": ["oncall:secondary"],
        "checklist": ["Acknowledge alert", "Assess impact", "Deploy fix"],
    },
}


def default_severity_levels(
    channel_names: Collection[str] | None = None,
) -> dict[Severity, dict[str, Any]]:
    """The default severity policy as opsbook.yaml data (strings, lists), freshly copied.

    With ``channel_names``, default targets naming a channel not in it are left out, so the
    defaults never point at a channel the configuration lacks::

        default_severity_levels(channel_names=[])["P1"]["notify"]
        # ['oncall:primary', 'status_page']
    """
    levels: dict[Severity, dict[str, Any]] = {}
    for severity, level in _SEVERITY_LEVELS.items():
        copied = {
            key: list(value) if isinstance(value, list) else value for key, value in level.items()
        }
        if channel_names is not None:
            for key in ("notify", "escalate_to"):
                copied[key] = [t for t in copied[key] if _channel_exists(t, channel_names)]
        levels[severity] = copied
    return levels


def _channel_exists(target: str, channel_names: Collection[str]) -> bool:
    kind, _, name = target.partition(":")
    return kind != "channel" or name in channel_names
