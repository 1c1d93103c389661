"""What a group notification says: Alertmanager's webhook v4 JSON, and a Message.

The ``alertmanager-webhook`` channel posts :func:`webhook_v4` as it is (the shape
Alertmanager's ``webhook_config`` sends, field for field); every other channel kind gets
a :class:`~opsbook.notify.message.Message` in the style of Alertmanager's default
templates (``[FIRING:3] HighErrorRate checkout``), carrying the same JSON in ``data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsbook.alerts.labels import fingerprint, rfc3339
from opsbook.notify.message import Message

MESSAGE_ALERTS = 10  # alerts listed in a Message's text; the rest are counted


@dataclass(frozen=True, slots=True)
class GroupAlert:
    """One alert as a notification shows it."""

    id: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    resolved: bool
    sort_key: bytes = b""


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for other in maps[1:]:
        if not common:
            break
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return dict(sorted(common.items()))


def webhook_v4(
    *,
    receiver: str,
    alerts: Sequence[GroupAlert],
    truncated: int,
    group_labels: Mapping[str, str],
    group_key: str,
    external_url: str,
) -> dict[str, Any]:
    """Alertmanager's webhook payload (``"version": "4"``), keys in Alertmanager's order.

    Firing alerts carry Go's zero time as ``endsAt``, as Alertmanager sends them.
    """
    status = "firing" if any(not a.resolved for a in alerts) else "resolved"
    return {
        "receiver": receiver,
        "status": status,
        "alerts": [
            {
                "status": "resolved" if a.resolved else "firing",
                "labels": dict(sorted(a.labels.items())),
                "annotations": dict(sorted(a.annotations.items())),
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at if a.resolved else None),
                "generatorURL": a.generator_url,
                "fingerprint": fingerprint(a.labels),
            }
            for a in alerts
        ],
        "groupLabels": dict(sorted(group_labels.items())),
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
    }


def group_message(
    *,
    payload: Mapping[str, Any],
    firing: int,
    resolved: int,
    url: str | None,
) -> Message:
    """A readable notification of a group, with the webhook JSON in ``data``."""
    group = payload["groupLabels"]
    name = group.get("alertname") or payload["commonLabels"].get("alertname") or "alerts"
    rest = " ".join(v for k, v in group.items() if k != "alertname")
    status = "FIRING" if payload["status"] == "firing" else "RESOLVED"
    count = firing if status == "FIRING" else resolved
    title = f"[{status}:{count}] {name}" + (f" ({rest})" if rest else "")
    lines = []
    for alert in payload["alerts"][:MESSAGE_ALERTS]:
        annotations = alert["annotations"]
        summary = annotations.get("summary") or annotations.get("description") or ""
        labels = ", ".join(
            f"{k}={v}" for k, v in alert["labels"].items() if k not in group and k != "alertname"
        )
        mark = "resolved" if alert["status"] == "resolved" else "firing"
        lines.append(f"- [{mark}] {summary or labels or alert['fingerprint']}")
    shown = len(payload["alerts"][:MESSAGE_ALERTS])
    more = firing + resolved - shown
    if more > 0:
        lines.append(f"… and {more} more")
    return Message(
        title=title,
        text="\n".join(lines),
        url=url,
        fields={k: str(v) for k, v in group.items()},
        event="alerts.firing" if status == "FIRING" else "alerts.resolved",
        data=dict(payload),
    )
