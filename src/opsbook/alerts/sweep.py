"""Time-driven changes: alerts that expire, mutes that end, old alerts that go.

- An alert resolves when its ``ends_at`` passes without a refresh (Alertmanager's
  ``resolve_timeout``, or the ``endsAt`` Prometheus sets).  The job ``alerts.sweep``,
  every ``SWEEP_EVERY``, closes such rows and tells their groups and incidents, exactly
  as an explicit resolution would.
- When a silence ends or an inhibiting alert resolves, ``alerts.reevaluate`` looks again
  at the open alerts that were muted: their groups flush, their incidents open.
- ``alerts.prune`` deletes resolved alerts older than ``alerts.keep_resolved``, and
  notify groups that have been empty and idle for ``IDLE_GROUP_TTL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from opsbook.alerts.ingest import (
    Sql,
    after_resolution,
    json_value,
    schedule_incident_work,
    touch_groups,
)
from opsbook.alerts.matchers import Matcher, matches_all
from opsbook.alerts.muting import _equality_alertname
from opsbook.alerts.routing import RoutingTree
from opsbook.core.jobs import schedule

SWEEP_JOB = "alerts.sweep"
PRUNE_JOB = "alerts.prune"
SWEEP_EVERY = timedelta(seconds=10)
PRUNE_EVERY = timedelta(hours=1)
SWEEP_BATCH = 5000
# An empty notify group whose last flush is older than this is deleted; an alert with
# its labels later makes a new one (waiting ``group_wait`` again, as Alertmanager does).
IDLE_GROUP_TTL = timedelta(hours=1)
PRUNE_BATCH = 10000


def sweep(session: Session, *, tree: RoutingTree, now: datetime) -> int:
    """Resolve open alerts whose ``ends_at`` has passed; returns how many."""
    sql = Sql(session)
    rows = sql.rows(
        f"UPDATE alerts SET resolved_at = {sql.ph}, updated_at = {sql.ph} WHERE id IN "
        "(SELECT id FROM alerts WHERE resolved_at IS NULL AND ends_at IS NOT NULL "
        f"AND ends_at <= {sql.ph} ORDER BY ends_at LIMIT {SWEEP_BATCH}) RETURNING id, labels",
        (sql.time(now), sql.time(now), sql.time(now)),
    )
    closed = [(int(alert_id), json_value(labels)) for alert_id, labels in rows]
    after_resolution(sql, tree, closed, now=now)
    return len(closed)


def reevaluate(
    session: Session, *, tree: RoutingTree, matchers: list[Mapping[str, Any]], now: datetime
) -> int:
    """A mute of the alerts ``matchers`` select ended: flush their groups, retry their
    incidents.  Returns how many open alerts were looked at."""
    sql = Sql(session)
    parsed = [Matcher.from_api(m) for m in matchers]
    query = "SELECT id, labels FROM alerts WHERE resolved_at IS NULL"
    params: list[Any] = []
    alertname = _equality_alertname(parsed)
    if alertname is not None:
        query += f" AND alertname = {sql.ph}"
        params.append(alertname)
    found = [
        (int(alert_id), json_value(labels))
        for alert_id, labels in sql.rows(query, params)
        if matches_all(parsed, json_value(labels))
    ]
    if not found:
        return 0
    ids = [alert_id for alert_id, _ in found]
    groups: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for (group_id,) in sql.rows(
            "SELECT DISTINCT group_id FROM alert_group_members "
            f"WHERE alert_id IN ({sql.marks(len(chunk))}) AND state = 'new'",
            chunk,
        ):
            groups[int(group_id)] = now
    touch_groups(sql, tree, groups, now=now, new_alerts=False)
    stamp = int(now.timestamp() * 1000)
    for alert_id, labels in found:
        if tree.route(labels).opens_incidents:
            schedule_incident_work(session, alert_id=alert_id, event=f"unmuted:{stamp}", now=now)
    return len(found)


def prune(session: Session, *, keep: timedelta, now: datetime) -> int:
    """Delete alerts resolved longer than ``keep`` ago (their memberships go with them),
    but the newest alert row, whose id SQLite would give to the next alert (and with it
    that alert's incident job keys, ``alerts.incident:<id>:<event>``)."""
    sql = Sql(session)
    return sql.run(
        "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE resolved_at IS NOT NULL "
        f"AND resolved_at < {sql.ph} AND id < (SELECT MAX(id) FROM alerts) "
        f"LIMIT {PRUNE_BATCH})",
        (sql.time(now - keep),),
    )


# What makes a notify group idle: no alert, no timer.  Repeated on the DELETE itself
# (not only in its subquery), so that on PostgreSQL a group that intake locked and
# activated meanwhile is re-checked on its new row version and kept.
_IDLE = (
    "kind = 'notify' AND active = {false} AND next_flush_at IS NULL AND repeat_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM alert_group_members m WHERE m.group_id = alert_groups.id)"
)


def prune_groups(session: Session, *, now: datetime, idle: timedelta = IDLE_GROUP_TTL) -> int:
    """Delete notify groups that have been empty and idle for ``idle`` (but the newest).

    A process that still knows a deleted group's id finds its row gone when it locks the
    group, and makes a new one (:func:`opsbook.alerts.ingest.group_ids`).
    """
    sql = Sql(session)
    idle_group = _IDLE.format(false=sql.false)
    # The newest group row is never deleted: SQLite gives a new row the highest id plus
    # one, so deleting that row would hand its id to the next group, and notification
    # keys (alerts:<group id>:<seq>:<channel>) would repeat an old group's.
    return sql.run(
        f"DELETE FROM alert_groups WHERE {idle_group} AND id IN (SELECT id FROM alert_groups "
        f"WHERE {idle_group} AND COALESCE(last_flush_at, created_at) < {sql.ph} "
        f"AND id < (SELECT MAX(id) FROM alert_groups) LIMIT {PRUNE_BATCH})",
        (sql.time(now - idle),),
    )


def schedule_next(session: Session, *, kind: str, every: timedelta, now: datetime) -> None:
    """Book the next run of a recurring job at the next multiple of ``every``."""
    step = int(every.total_seconds() * 1000)
    slot_ms = (int(now.timestamp() * 1000) // step + 1) * step
    slot = datetime.fromtimestamp(slot_ms / 1000, tz=now.tzinfo)
    schedule(session, kind=kind, key=f"{kind}:{slot_ms}", run_at=slot, now=now)
