"""Flushing a notify group: Alertmanager's decision whether and what to send, durably.

A flush is the job ``alerts.flush`` (see :mod:`opsbook.alerts.ingest` for when one is
scheduled).  It locks the group row, so it runs alone for its group on any number of
workers, and decides as Alertmanager's dedup stage does:

- never notified: send if something fires;
- an unmuted firing alert the last notification did not carry: send;
- nothing fires any more, but the last notification had firing alerts: send (the
  all-clear), to the channels that want resolved notices;
- a resolution not yet announced, for channels that want resolved notices: send;
- otherwise only once ``repeat_interval`` has passed since the last notification.

What was sent is recorded on the member rows (``new`` becomes ``notified``) and the
group (``notify_seq``) in the same transaction as the outbox rows, whose idempotency key
``alerts:<group>:<seq>:<channel>`` makes a repeat of the job harmless: a restart
neither sends twice nor forgets.  Muted alerts stay ``new``, so a silence that ends
(or an inhibiting alert that resolves) brings them into the next notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from opsbook.alerts.ingest import Sql, _next_tick, json_value, schedule_flush
from opsbook.alerts.models import AlertGroup
from opsbook.alerts.muting import Muter, build_muter
from opsbook.alerts.payloads import GroupAlert, group_message, webhook_v4
from opsbook.alerts.routing import Route, routing_tree
from opsbook.config.schema import OpsbookConfig
from opsbook.notify.service import notify

log = structlog.get_logger(__name__)

# Alerts a non-Alertmanager channel's message carries in its data.
OTHER_KINDS_LIMIT = 100
_SELECT = (
    "SELECT a.id, a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url, "
    "m.state, m.sort_key FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id "
)


@dataclass(frozen=True, slots=True)
class FlushOutcome:
    group_id: int
    notified: bool
    firing: int
    resolved: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Channel:
    name: str
    max_alerts: int  # 0: all
    send_resolved: bool


def _channels(config: OpsbookConfig, route: Route) -> list[_Channel]:
    found = []
    for name in route.channels:
        channel = config.find_channel(name)
        if channel is None:
            continue
        max_alerts = int(getattr(channel, "max_alerts", OTHER_KINDS_LIMIT))
        found.append(_Channel(name, max_alerts, bool(getattr(channel, "send_resolved", True))))
    return found


def _alert(sql: Sql, row: Any) -> tuple[GroupAlert, str]:
    alert_id, labels, annotations, starts_at, ends_at, generator_url, state, key = row
    return (
        GroupAlert(
            id=int(alert_id),
            labels=json_value(labels),
            annotations=json_value(annotations) or {},
            starts_at=sql.read_time(starts_at),  # type: ignore[arg-type]
            ends_at=sql.read_time(ends_at),
            generator_url=generator_url or "",
            resolved=state in ("resolved", "gone"),
            sort_key=bytes(key),
        ),
        state,
    )


@dataclass
class _View:
    """The group as this flush sees it."""

    firing: list[GroupAlert]  # unmuted, sorted; maybe only the first `limit`
    firing_total: int
    has_new: bool
    resolved: list[GroupAlert]  # announced-as-firing resolutions, sorted
    resolved_total: int
    muted_ids: list[int]
    remaining: int


def _exact_view(sql: Sql, group_id: int, muter: Muter) -> _View:
    firing, resolved, muted = [], [], []
    has_new = False
    remaining = 0
    rows = sql.rows(_SELECT + f"WHERE m.group_id = {sql.ph}", (group_id,))
    for row in rows:
        alert, state = _alert(sql, row)
        if state == "gone":
            continue
        if state == "resolved":
            resolved.append(alert)
            continue
        remaining += 1
        if muter.status(alert.labels).muted:
            muted.append(alert.id)
            continue
        firing.append(alert)
        has_new = has_new or state == "new"
    firing.sort(key=lambda a: a.sort_key)
    resolved.sort(key=lambda a: a.sort_key)
    return _View(firing, len(firing), has_new, resolved, len(resolved), muted, remaining)


def _counted_view(sql: Sql, group_id: int, limit: int) -> _View:
    counts = dict(
        sql.rows(
            f"SELECT state, COUNT(*) FROM alert_group_members WHERE group_id = {sql.ph} "
            "GROUP BY state",
            (group_id,),
        )
    )
    new, notified = int(counts.get("new", 0)), int(counts.get("notified", 0))
    resolved_total = int(counts.get("resolved", 0))
    cut = f" LIMIT {int(limit)}" if limit else ""
    firing = [
        _alert(sql, row)[0]
        for row in sql.rows(
            _SELECT + f"WHERE m.group_id = {sql.ph} AND m.state IN ('new', 'notified') "
            f"ORDER BY m.sort_key{cut}",
            (group_id,),
        )
    ]
    resolved = []
    if resolved_total:
        resolved = [
            _alert(sql, row)[0]
            for row in sql.rows(
                _SELECT + f"WHERE m.group_id = {sql.ph} AND m.state = 'resolved' "
                f"ORDER BY m.sort_key{cut}",
                (group_id,),
            )
        ]
    return _View(firing, new + notified, new > 0, resolved, resolved_total, [], new + notified)


def _expire_members(sql: Sql, group_id: int, now: datetime) -> None:
    """Alerts past their ``ends_at`` are resolved for this flush; the sweep job closes
    their rows (and tells their other groups) soon after."""
    expired = [
        int(alert_id)
        for (alert_id,) in sql.rows(
            "SELECT a.id FROM alerts a JOIN alert_group_members m ON m.alert_id = a.id "
            f"AND m.group_id = {sql.ph} WHERE a.resolved_at IS NULL AND a.ends_at <= {sql.ph} "
            "AND m.state IN ('new', 'notified')",
            (group_id, sql.time(now)),
        )
    ]
    if expired:
        sql.run(
            "UPDATE alert_group_members SET state = CASE state WHEN 'new' THEN 'gone' "
            f"ELSE 'resolved' END WHERE group_id = {sql.ph} "
            f"AND alert_id IN ({sql.marks(len(expired))}) AND state IN ('new', 'notified')",
            (group_id, *expired),
        )


def _needs_update(
    group: AlertGroup, view: _View, channels: Sequence[_Channel], repeat: bool
) -> str:
    if group.notify_seq == 0:
        return "first" if view.firing_total else ""
    if view.has_new:
        return "new alerts"
    if view.firing_total == 0:
        return "all resolved" if group.last_firing > 0 and view.resolved_total else ""
    if view.resolved_total and any(c.send_resolved for c in channels):
        return "resolved alerts"
    return "repeat" if repeat else ""


def flush(
    session: Session,
    *,
    config: OpsbookConfig,
    group_id: int,
    now: datetime,
    external_url: str,
) -> FlushOutcome:
    """Flush group ``group_id`` in the caller's transaction (the job's)."""
    sql = Sql(session)
    group = session.get(AlertGroup, group_id, with_for_update={"key_share": True})
    if group is None or group.kind != "notify":
        return FlushOutcome(group_id, False, 0, 0, "no such notify group")
    tree = routing_tree(config.alerts)
    route = tree.by_id.get(group.route_id)
    pending = group.next_flush_at
    if pending is not None and pending > now:
        return FlushOutcome(group_id, False, 0, 0, "a later flush is pending")
    interval = route.group_interval if route is not None else timedelta(minutes=5)
    repeat = (
        route is not None
        and group.last_notified_at is not None
        and now >= group.last_notified_at + route.repeat_interval
    )
    recent = group.last_flush_at is not None and now < group.last_flush_at + interval
    if pending is None and not repeat and recent:
        return FlushOutcome(group_id, False, 0, 0, "flushed already")
    group.next_flush_at = None
    group.last_flush_at = now
    channels = _channels(config, route) if route is not None else []
    if route is None or not channels:
        sql.run(f"DELETE FROM alert_group_members WHERE group_id = {sql.ph}", (group_id,))
        group.active = False
        return FlushOutcome(group_id, False, 0, 0, "its route no longer notifies anyone")
    _expire_members(sql, group_id, now)
    muter = build_muter(session, config=config.alerts, now=now)
    limits = [c.max_alerts for c in channels]
    limit = 0 if 0 in limits else max(limits)
    exact = muter.may_mute(group.labels)
    view = _exact_view(sql, group_id, muter) if exact else _counted_view(sql, group_id, limit)
    reason = _needs_update(group, view, channels, repeat)
    sent = False
    if reason:
        sent = _send(session, config, group, route, channels, view, now, external_url)
    if sent:
        group.notify_seq += 1
        group.last_notified_at = now
        group.last_firing = view.firing_total
        sql.run(
            "UPDATE alert_group_members SET state = 'notified' "
            f"WHERE group_id = {sql.ph} AND state = 'new'",
            (group_id,),
        )
        if view.muted_ids:
            # Muted alerts were not in this notification: when unmuted, they are news.
            sql.run(
                "UPDATE alert_group_members SET state = 'new' "
                f"WHERE group_id = {sql.ph} AND alert_id IN ({sql.marks(len(view.muted_ids))})",
                (group_id, *view.muted_ids),
            )
    sql.run(
        f"DELETE FROM alert_group_members WHERE group_id = {sql.ph} "
        "AND state IN ('resolved', 'gone')",
        (group_id,),
    )
    group.active = view.remaining > 0
    if view.firing_total and group.last_notified_at is not None:
        due = _next_tick(now, interval, group.last_notified_at + route.repeat_interval)
        schedule_flush(session, group_id=group_id, due=max(due, now), now=now)
    log.debug("alerts.flushed", group_id=group_id, sent=sent, reason=reason or "no change")
    return FlushOutcome(
        group_id, sent, view.firing_total, view.resolved_total, reason or "nothing new"
    )


def _send(
    session: Session,
    config: OpsbookConfig,
    group: AlertGroup,
    route: Route,
    channels: Sequence[_Channel],
    view: _View,
    now: datetime,
    external_url: str,
) -> bool:
    sent = False
    url = f"{external_url.rstrip('/')}/alerts?group={group.id}" if external_url else None
    for channel in channels:
        alerts = list(view.firing)
        total = view.firing_total
        if channel.send_resolved:
            alerts = sorted([*alerts, *view.resolved], key=lambda a: a.sort_key)
            total += view.resolved_total
        if not alerts:
            continue  # e.g. only resolutions, for a channel that does not want them
        shown = alerts[: channel.max_alerts] if channel.max_alerts else alerts
        payload = webhook_v4(
            receiver=channel.name,
            alerts=shown,
            truncated=max(0, total - len(shown)),
            group_labels=json_value(group.labels),
            group_key=group.group_key,
            external_url=external_url,
        )
        message = group_message(
            payload=payload,
            firing=view.firing_total,
            resolved=view.resolved_total if channel.send_resolved else 0,
            url=url,
        )
        notify(
            session,
            channels={c.name: c for c in config.channels},
            channel=channel.name,
            message=message,
            idempotency_key=f"alerts:{group.id}:{group.notify_seq + 1}:{channel.name}",
            now=now,
            source=f"alerts:group:{group.id}",
        )
        sent = True
    return sent
