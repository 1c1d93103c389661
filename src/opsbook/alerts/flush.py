"""Flushing a notify group: Alertmanager's decision whether and what to send, durably.

A group is due when its ``next_flush_at`` (set by intake, see
:mod:`opsbook.alerts.ingest`) or its ``repeat_at`` has passed; the flusher
(:mod:`opsbook.alerts.flusher`) locks due group rows and flushes them, so each group is
flushed by one worker at a time however many run.  It decides as Alertmanager's dedup
stage does:

- never notified: send if something fires;
- an unmuted firing alert the last notification did not carry: send;
- nothing fires any more, but the last notification had firing alerts: send (the
  all-clear), to the channels that want resolved notices;
- a resolution not yet announced, for channels that want resolved notices: send;
- otherwise only once ``repeat_interval`` has passed since the last notification.

What was sent is recorded on the member rows (``new`` becomes ``notified``) and the
group (``notify_seq``) in the same transaction as the outbox rows, whose idempotency key
``alerts:<group>:<seq>:<channel>`` makes a repeated flush harmless: a restart neither
sends twice nor forgets.  Muted alerts stay ``new``, so a silence that ends
(or an inhibiting alert that resolves) brings them into the next notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from opsbook.alerts.ingest import Sql, Tx, _next_tick, insert_members, json_value
from opsbook.alerts.muting import Muter
from opsbook.alerts.payloads import GroupAlert, group_message, webhook_v4
from opsbook.alerts.routing import GroupRef, Route, routing_tree
from opsbook.config.schema import OpsbookConfig
from opsbook.core.db import MAX_PARAMETERS

log = structlog.get_logger(__name__)

# Alerts a non-Alertmanager channel's message carries in its data.
OTHER_KINDS_LIMIT = 100
_SELECT = (
    "SELECT a.id, a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url, "
    "m.state, m.sort_key FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id "
)


@dataclass(slots=True)
class GroupState:
    """A notify group's row as a flush reads and writes it (locked by the flusher)."""

    id: int
    kind: str
    route_id: str
    group_key: str
    labels: dict[str, str]
    active: bool
    next_flush_at: datetime | None
    repeat_at: datetime | None
    last_flush_at: datetime | None
    last_notified_at: datetime | None
    notify_seq: int
    last_firing: int


_GROUP_COLUMNS = (
    "id, kind, route_id, group_key, labels, active, next_flush_at, repeat_at, "
    "last_flush_at, last_notified_at, notify_seq, last_firing"
)


def due_groups(sql: Sql, *, now: datetime, limit: int) -> list[GroupState]:
    """Lock and read the notify groups due now (skipping those another worker holds)."""
    lock = "" if sql.sqlite else " FOR NO KEY UPDATE SKIP LOCKED"
    rows = sql.rows(
        f"SELECT {_GROUP_COLUMNS} FROM alert_groups WHERE kind = 'notify' AND "
        f"(next_flush_at <= {sql.ph} OR repeat_at <= {sql.ph}) "
        f"ORDER BY id LIMIT {int(limit)}{lock}",
        (sql.time(now), sql.time(now)),
    )
    return _states(sql, rows)


def groups_by_id(sql: Sql, ids: Sequence[int]) -> list[GroupState]:
    """Read the notify groups ``ids``, which this transaction has locked already."""
    rows = sql.rows(
        f"SELECT {_GROUP_COLUMNS} FROM alert_groups WHERE kind = 'notify' AND "
        f"id IN ({sql.marks(len(ids))}) ORDER BY id",
        ids,
    )
    return _states(sql, rows)


def new_group_state(group_id: int, ref: GroupRef) -> GroupState:
    """The state of a group row just inserted for ``ref`` (see ``ingest.group_ids``)."""
    return GroupState(
        id=group_id,
        kind=ref.kind,
        route_id=ref.route.id,
        group_key=ref.key,
        labels=dict(ref.labels),
        active=False,
        next_flush_at=None,
        repeat_at=None,
        last_flush_at=None,
        last_notified_at=None,
        notify_seq=0,
        last_firing=0,
    )


def _states(sql: Sql, rows: Sequence[Any]) -> list[GroupState]:
    return [
        GroupState(
            id=int(r[0]),
            kind=r[1],
            route_id=r[2],
            group_key=r[3],
            labels=json_value(r[4]),
            active=bool(r[5]),
            next_flush_at=sql.read_time(r[6]),
            repeat_at=sql.read_time(r[7]),
            last_flush_at=sql.read_time(r[8]),
            last_notified_at=sql.read_time(r[9]),
            notify_seq=int(r[10]),
            last_firing=int(r[11]),
        )
        for r in rows
    ]


def save_groups(sql: Sql, groups: Sequence[GroupState]) -> None:
    if not sql.sqlite:
        for start in range(0, len(groups), _SAVED_PER_STATEMENT):
            sql.run(*save_groups_statement(groups[start : start + _SAVED_PER_STATEMENT]))
        return
    sql.many(
        f"UPDATE alert_groups SET active = {sql.ph}, next_flush_at = {sql.ph}, "
        f"repeat_at = {sql.ph}, last_flush_at = {sql.ph}, last_notified_at = {sql.ph}, "
        f"notify_seq = {sql.ph}, last_firing = {sql.ph} WHERE id = {sql.ph}",
        [
            (
                g.active if not sql.sqlite else int(g.active),
                sql.time(g.next_flush_at),
                sql.time(g.repeat_at),
                sql.time(g.last_flush_at),
                sql.time(g.last_notified_at),
                g.notify_seq,
                g.last_firing,
                g.id,
            )
            for g in groups
        ],
    )


GROUP_PARAMETERS = 8  # a group's, in save_groups_statement
_SAVED_PER_STATEMENT = MAX_PARAMETERS // GROUP_PARAMETERS


def save_groups_statement(groups: Sequence[GroupState]) -> tuple[str, list[Any]]:
    """PostgreSQL: :func:`save_groups` as one ``UPDATE ... FROM (VALUES ...)``, a
    statement that can also run inside another one (as a data-modifying ``WITH``)."""
    row = (
        "(%s::boolean,%s::timestamptz,%s::timestamptz,%s::timestamptz,%s::timestamptz,"
        "%s::integer,%s::integer,%s::bigint)"
    )
    params: list[Any] = []
    for g in groups:
        params += (
            g.active,
            g.next_flush_at,
            g.repeat_at,
            g.last_flush_at,
            g.last_notified_at,
            g.notify_seq,
            g.last_firing,
            g.id,
        )
    statement = (
        "UPDATE alert_groups AS g SET active = v.active, next_flush_at = v.next_flush_at, "
        "repeat_at = v.repeat_at, last_flush_at = v.last_flush_at, "
        "last_notified_at = v.last_notified_at, notify_seq = v.notify_seq, "
        "last_firing = v.last_firing FROM (VALUES "
        + ",".join([row] * len(groups))
        + ") AS v(active, next_flush_at, repeat_at, last_flush_at, last_notified_at, "
        "notify_seq, last_firing, id) WHERE g.id = v.id"
    )
    return statement, params


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
    gone: int = 0


def _exact_view(sql: Sql, group_id: int, muter: Muter) -> _View:
    firing, resolved, muted = [], [], []
    has_new = False
    remaining = gone = 0
    rows = sql.rows(_SELECT + f"WHERE m.group_id = {sql.ph}", (group_id,))
    for row in rows:
        alert, state = _alert(sql, row)
        if state == "gone":
            gone += 1
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
    return _View(firing, len(firing), has_new, resolved, len(resolved), muted, remaining, gone)


def _known_view(members: Sequence[GroupAlert], limit: int) -> _View:
    """A group's view from members known without reading (all new, none muted)."""
    firing = sorted(members, key=lambda a: a.sort_key)
    total = len(firing)
    return _View(firing[:limit] if limit else firing, total, total > 0, [], 0, [], total)


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
    gone = int(counts.get("gone", 0))
    cut = f" LIMIT {int(limit)}" if limit else ""
    if limit:
        # The first ``limit`` of each state, read in index order, then merged: one
        # ``state IN (...) ORDER BY`` would join and sort every member of a big group.
        top = (
            "SELECT * FROM (SELECT alert_id, state, sort_key FROM alert_group_members "
            f"WHERE group_id = {sql.ph} AND state = '{{state}}' ORDER BY sort_key{cut}) "
            "AS top_{state}"
        )
        query = (
            "SELECT a.id, a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url, "
            f"m.state, m.sort_key FROM ({top.format(state='new')} UNION ALL "
            f"{top.format(state='notified')}) AS m JOIN alerts a ON a.id = m.alert_id "
            f"ORDER BY m.sort_key{cut}"
        )
        rows = sql.rows(query, (group_id, group_id))
    else:
        rows = sql.rows(
            _SELECT + f"WHERE m.group_id = {sql.ph} AND m.state IN ('new', 'notified') "
            "ORDER BY m.sort_key",
            (group_id,),
        )
    firing = [_alert(sql, row)[0] for row in rows]
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
    return _View(
        firing, new + notified, new > 0, resolved, resolved_total, [], new + notified, gone
    )


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
    group: GroupState, view: _View, channels: Sequence[_Channel], repeat: bool
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
    session: Tx,
    *,
    config: OpsbookConfig,
    group: GroupState,
    now: datetime,
    external_url: str,
    muter: Muter,
    outbox: list[dict[str, Any]],
    expired: bool = True,
    members: Sequence[GroupAlert] | None = None,
    unsaved: Sequence[tuple[int, int, str, bytes]] | None = None,
    deferred: list[tuple[int, int, str, bytes]] | None = None,
) -> FlushOutcome:
    """Flush ``group`` (locked by the caller) if it is due; the caller saves ``group``
    and enqueues ``outbox`` in the same transaction.

    ``expired=False`` says no open alert is past its end (the caller checked once for
    many groups).  ``members`` are the group's members when the caller knows them all
    (a group intake created in this transaction: its new alerts, none past its end).
    ``unsaved`` are member rows of the group not written yet (all new): this flush
    writes them, as notified when it announced them (or, given ``deferred``, adds them
    there in that state, for the caller to write in the same transaction).
    """
    sql = Sql(session)
    group_id = group.id
    changed = group.next_flush_at is not None and group.next_flush_at <= now
    repeat = group.repeat_at is not None and group.repeat_at <= now
    if unsaved and (members is None or muter.may_mute(group.labels) or not changed):
        insert_members(sql, unsaved)  # read back below, as any other member
        unsaved = None
    if group.kind != "notify" or (not changed and not repeat):
        return FlushOutcome(group_id, False, 0, 0, "not due")
    tree = routing_tree(config.alerts)
    route = tree.by_id.get(group.route_id)
    group.next_flush_at = None
    group.repeat_at = None
    group.last_flush_at = now
    channels = _channels(config, route) if route is not None else []
    if route is None or not channels:
        sql.run(f"DELETE FROM alert_group_members WHERE group_id = {sql.ph}", (group_id,))
        group.active = False
        return FlushOutcome(group_id, False, 0, 0, "its route no longer notifies anyone")
    if expired and members is None:
        _expire_members(sql, group_id, now)
    limits = [c.max_alerts for c in channels]
    limit = 0 if 0 in limits else max(limits)
    if muter.may_mute(group.labels):
        view = _exact_view(sql, group_id, muter)
    elif members is not None:
        view = _known_view(members, limit)
    else:
        view = _counted_view(sql, group_id, limit)
    repeat_due = (
        group.last_notified_at is not None and now >= group.last_notified_at + route.repeat_interval
    )
    reason = _needs_update(group, view, channels, repeat_due)
    sent = False
    if reason:
        sent = _send(config, group, channels, view, external_url, outbox)
    if sent:
        group.notify_seq += 1
        group.last_notified_at = now
        group.last_firing = view.firing_total
    if unsaved:
        state = "notified" if sent else "new"
        final = [(alert_id, gid, state, key) for alert_id, gid, _, key in unsaved]
        if deferred is not None:
            deferred.extend(final)
        else:
            insert_members(sql, final)
    elif sent and view.has_new:
        sql.run(
            "UPDATE alert_group_members SET state = 'notified' "
            f"WHERE group_id = {sql.ph} AND state = 'new'",
            (group_id,),
        )
    if sent and view.muted_ids:
        # Muted alerts were not in this notification: when unmuted, they are news.
        sql.run(
            "UPDATE alert_group_members SET state = 'new' "
            f"WHERE group_id = {sql.ph} AND alert_id IN ({sql.marks(len(view.muted_ids))})",
            (group_id, *view.muted_ids),
        )
    if view.resolved_total or view.gone:
        sql.run(
            f"DELETE FROM alert_group_members WHERE group_id = {sql.ph} "
            "AND state IN ('resolved', 'gone')",
            (group_id,),
        )
    group.active = view.remaining > 0
    if view.firing_total and group.last_notified_at is not None:
        # Unchanged, it is said again after repeat_interval, on a group_interval beat.
        due = _next_tick(now, route.group_interval, group.last_notified_at + route.repeat_interval)
        group.repeat_at = max(due, now)
    log.debug("alerts.flushed", group_id=group_id, sent=sent, reason=reason or "no change")
    return FlushOutcome(
        group_id, sent, view.firing_total, view.resolved_total, reason or "nothing new"
    )


def _send(
    config: OpsbookConfig,
    group: GroupState,
    channels: Sequence[_Channel],
    view: _View,
    external_url: str,
    outbox: list[dict[str, Any]],
) -> bool:
    sent = False
    url = f"{external_url.rstrip('/')}/alerts?group={group.id}" if external_url else None
    kinds = {c.name: c.kind for c in config.channels}
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
            group_labels=group.labels,
            group_key=group.group_key,
            external_url=external_url,
        )
        message = group_message(
            payload=payload,
            firing=view.firing_total,
            resolved=view.resolved_total if channel.send_resolved else 0,
            url=url,
        )
        outbox.append(
            {
                "channel": channel.name,
                "kind": kinds[channel.name],
                "message": message.to_dict(),
                "idempotency_key": f"alerts:{group.id}:{group.notify_seq + 1}:{channel.name}",
                "source": f"alerts:group:{group.id}",
                "max_attempts": config.settings.notifications.max_attempts,
            }
        )
        sent = True
    return sent
