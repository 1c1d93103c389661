"""Recording alerts: dedup, group membership and the durable follow-up work, in bulk.

This is the hot path of every intake, so it talks SQL directly and per *batch*, never
per alert: one multi-row upsert records every firing alert (the partial unique index
on open ``dedup_key`` values deduplicates, whichever process writes), its ``RETURNING``
says which rows are new, one insert adds the new ones to their notify groups, and one
locked read of those groups decides which need a flush scheduled.  Work that may page
someone (notifications, incidents) is never done here: it is a job in the same
transaction, run by a worker right after the commit (see :mod:`opsbook.core.wakeup`).

Groups: a flush is pending while ``alert_groups.next_flush_at`` is set: that column is
the durable timer, which :mod:`opsbook.alerts.flusher` serves.  Reading the group rows
``FOR UPDATE`` (PostgreSQL; SQLite writers are serialised anyway) orders this
transaction against the flush, so an alert is either seen by a flush or finds no flush
pending and sets one: none is missed, whatever the interleaving.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from opsbook.alerts.contract import AlertInput
from opsbook.alerts.labels import label_key, labels_json, sort_key
from opsbook.alerts.matchers import matches_all
from opsbook.alerts.payloads import GroupAlert
from opsbook.alerts.routing import GroupRef, RoutingTree
from opsbook.core import wakeup
from opsbook.core.db import (
    MAX_PARAMETERS,
    Database,
    driver_cursor,
    execute_raw,
    sqlite_datetime,
)
from opsbook.core.jobs import schedule

FLUSH_TOPIC = "alerts.flush"  # the wake-up topic of the group flusher
INCIDENT_JOB = "alerts.incident"
REEVALUATE_JOB = "alerts.reevaluate"
_CHUNK = 500
MEMBER_PARAMETERS = 4  # a member row's, in insert_members
MAX_CACHED_GROUPS = 100_000  # group ids a process remembers (key hash -> id)
_ALERT_COLUMNS = (
    "dedup_key, source, alertname, labels, annotations, starts_at, ends_at, "
    "received_at, updated_at, generator_url, refreshes, extra"
)


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """What one :func:`receive` did: new alerts, repeats, resolutions, and resolutions
    of alerts that were not open (dropped, as PagerDuty drops them)."""

    new: int = 0
    refreshed: int = 0
    resolved: int = 0
    unknown: int = 0


@dataclass
class _GroupIds:
    """``key_hash -> id`` of groups known to be committed, per database engine."""

    ids: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_GROUP_IDS: weakref.WeakKeyDictionary[Engine, _GroupIds] = weakref.WeakKeyDictionary()
_GROUP_IDS_LOCK = threading.Lock()


def _group_cache(engine: Engine) -> _GroupIds:
    with _GROUP_IDS_LOCK:
        cache = _GROUP_IDS.get(engine)
        if cache is None:
            cache = _GROUP_IDS[engine] = _GroupIds()
        return cache


class IntakeTransaction:
    """Alert intake's transaction: raw SQL on a connection its caller holds, with no ORM
    session unless a step needs one.

    A group commit of alerts only runs SQL of its own (:class:`Sql`), so beginning,
    committing and waking the worker are done here, on the driver's connection: a
    session's transaction machinery cost a quarter of intake's CPU.  A step that needs
    the ORM (scheduling incident work, a PagerDuty acknowledge) takes :attr:`session`,
    which joins this same connection and transaction; the commit is then the session's,
    with its hooks.  Marks (:meth:`Sql.mark`) wake the worker after the commit, and
    ``on_commit`` callbacks run then, as a session's ``after_commit`` listeners would.

    >>> with IntakeTransaction(db, connection) as tx:
    ...     receive(tx, tree=tree, alerts=alerts, now=now)
    """

    def __init__(self, db: Database, connection: Connection) -> None:
        self.db = db
        self.connection = connection
        self.dialect = db.dialect
        self.engine = db.engine
        self.dbapi: Any = connection.connection.dbapi_connection
        self.marks: wakeup.Marks = []
        self.on_commit: list[Callable[[], None]] = []
        self._session: Session | None = None
        # A caller that flushes, in this transaction, the notify groups its alerts make
        # due at once sets this to a list: :func:`touch_groups` collects their ids here
        # (and leaves their timers to that flush) instead of waking the flusher.
        self.due_now: list[int] | None = None
        # Groups this transaction created, by id: no other transaction sees them before
        # the commit, so their state is known without reading (or locking) their rows.
        self.new_groups: dict[int, GroupRef] = {}
        # The members of those groups, which are all this transaction's new alerts: a
        # flush in this transaction shows them without reading them back.
        self.new_members: dict[int, list[GroupAlert]] = {}
        # Member rows of those groups that the flush in this transaction writes (see
        # :func:`join_groups`); any it did not are written, as new, before the commit.
        self.unsaved_members: dict[int, list[tuple[int, int, str, bytes]]] = {}
        # Set by :meth:`discard`: the transaction ends in a rollback, whatever happened.
        self.discarded = False

    def discard(self) -> None:
        """End this transaction with a rollback instead of the commit (a dry run)."""
        self.discarded = True

    @property
    def session(self) -> Session:
        """An ORM session in this transaction (created on first use)."""
        if self._session is None:
            self._session = self.db.session(bind=self.connection)
        return self._session

    def __enter__(self) -> IntakeTransaction:
        if self.dialect == "sqlite":
            execute_raw(self.dbapi, "BEGIN IMMEDIATE")  # psycopg begins implicitly
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None or self.discarded:
            self._rollback()
            return
        if self.unsaved_members:
            try:
                insert_members(Sql(self), [m for ms in self.unsaved_members.values() for m in ms])
            except BaseException:
                self._rollback()
                raise
            self.unsaved_members.clear()
        if self._session is not None:
            for topic, due in self.marks:
                wakeup.mark(self._session, due=due, topic=topic)
            try:
                self._session.commit()  # its hooks NOTIFY (PostgreSQL) and wake the worker
            finally:
                self._session.close()
        else:
            if self.dialect == "postgresql":
                for payload in wakeup.notify_payloads(self.marks):
                    execute_raw(self.dbapi, "SELECT pg_notify(%s, %s)", (wakeup.CHANNEL, payload))
            self.dbapi.commit()
            wakeup.wake(self.db.wakeup, self.marks)
        for callback in self.on_commit:
            callback()

    def _rollback(self) -> None:
        if self._session is not None:
            try:
                self._session.rollback()
            finally:
                self._session.close()
        else:
            self.dbapi.rollback()


# What the hot path's functions run in: an ORM session's transaction, or intake's own.
Tx = Session | IntakeTransaction


class Sql:
    """The dialect's spelling of what the hot path needs."""

    def __init__(self, tx: Tx) -> None:
        if isinstance(tx, IntakeTransaction):
            self.tx: IntakeTransaction | None = tx
            self._session: Session | None = None
            self.engine: Engine = tx.engine
            self._dbapi: Any = tx.dbapi
        else:
            self.tx = None
            self._session = tx
            self.engine = tx.get_bind().engine
            self._dbapi = None
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.ph = "?" if self.sqlite else "%s"
        self.true, self.false = ("1", "0") if self.sqlite else ("true", "false")
        self._times: dict[datetime, str] = {}

    @property
    def session(self) -> Session:
        """The ORM session of this transaction (in intake's, one is joined on first use)."""
        if self.tx is not None:
            return self.tx.session
        assert self._session is not None
        return self._session

    @property
    def dbapi(self) -> Any:
        """The driver's connection, in this transaction."""
        if self._dbapi is None:
            assert self._session is not None
            self._dbapi = self._session.connection().connection.dbapi_connection
        return self._dbapi

    def mark(self, *, due: datetime | None, topic: str) -> None:
        """Wake ``topic``'s waiter once this transaction commits (:func:`wakeup.mark`)."""
        if self.tx is not None:
            self.tx.marks.append((topic, due))
        else:
            wakeup.mark(self.session, due=due, topic=topic)

    def time(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if not self.sqlite:
            return value
        # A batch stamps most rows with a few times (now, its requests' default ends, a
        # shared startsAt): format each once.
        text = self._times.get(value)
        if text is None:
            text = self._format(value)
            if len(self._times) < 1024:
                self._times[value] = text
        return text

    _format = staticmethod(sqlite_datetime)

    def read_time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def _cursor(self, statement: str) -> tuple[Any, Any]:
        # The driver's own cursor, in the transaction: SQLAlchemy's result machinery
        # costs more than the statements themselves on this path.
        return driver_cursor(self.dbapi, statement)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of ``sql``, a statement that returns rows (a query, ``RETURNING``)."""
        cursor, statement = self._cursor(sql)
        try:
            cursor.execute(statement, tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor, statement = self._cursor(sql)
        try:
            cursor.execute(statement, tuple(params))
            return int(cursor.rowcount or 0)
        finally:
            cursor.close()

    def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        if params:
            cursor, statement = self._cursor(sql)
            try:
                cursor.executemany(statement, [tuple(p) for p in params])
            finally:
                cursor.close()

    def marks(self, count: int) -> str:
        return ",".join([self.ph] * count)

    def for_update(self) -> str:
        # NO KEY UPDATE: compatible with the KEY SHARE lock that inserting a member row
        # (a foreign key to the group) takes, so two batches cannot deadlock on a group.
        return "" if self.sqlite else " FOR NO KEY UPDATE"


def _json_text(value: Mapping[str, Any]) -> str:
    """A JSON column's text for raw SQL (stored as is; read back by any JSON parser)."""
    try:
        return orjson.dumps(value if type(value) is dict else dict(value)).decode()
    except TypeError:  # something orjson will not write: the stdlib may
        return json.dumps(dict(value))


def json_value(value: Any) -> Any:
    """A JSON column as read by a raw query: parsed on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def receive(
    session: Tx,
    *,
    tree: RoutingTree,
    alerts: Sequence[AlertInput],
    now: datetime,
) -> ReceiveResult:
    """Record ``alerts`` in the caller's transaction (see the module docstring).

    In an :class:`IntakeTransaction` whose ``due_now`` is a list, the notify groups that
    fall due at once are collected there instead of waking the flusher: the caller
    flushes them in this same transaction.
    """
    sql = Sql(session)
    firing: dict[str, AlertInput] = {}
    resolving: dict[str, datetime] = {}
    encoded: dict[str, str] = {}
    for alert in alerts:
        text = labels_json(alert.labels)
        key = alert.dedup_key or label_key(alert.labels, text)
        encoded[key] = text
        if alert.ends_at is not None and alert.ends_at <= now:
            firing.pop(key, None)
            resolving[key] = alert.ends_at
        else:
            resolving.pop(key, None)
            firing[key] = alert
    new, refreshed = _upsert(sql, firing, encoded, now) if firing else ([], 0)
    if new:
        join_groups(
            sql,
            tree,
            [(alert_id, firing[key], encoded[key]) for alert_id, key in new],
            now,
        )
    resolved = _resolve(sql, tree, resolving, now) if resolving else 0
    return ReceiveResult(
        new=len(new),
        refreshed=refreshed,
        resolved=resolved,
        unknown=len(resolving) - resolved,
    )


def _upsert(
    sql: Sql, firing: Mapping[str, AlertInput], encoded: Mapping[str, str], now: datetime
) -> tuple[list[tuple[int, str]], int]:
    stamp = sql.time(now)
    values: list[Any] = []
    rows = 0
    new: list[tuple[int, str]] = []
    refreshed = 0
    # Sorted, so that concurrent batches lock rows in one order (no deadlocks on PostgreSQL).
    items = sorted(firing.items())
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        values = []
        for key, alert in chunk:
            labels = alert.labels
            values += (
                key,
                alert.source,
                labels.get("alertname", "")[:300],
                encoded[key],
                _json_text(alert.annotations),
                sql.time(alert.starts_at) if alert.starts_at is not None else stamp,
                sql.time(alert.ends_at),
                stamp,
                stamp,
                alert.generator_url,
                json.dumps(alert.extra) if alert.extra else None,
            )
        rows = len(chunk)
        row = "(" + ",".join([sql.ph] * 10) + ",0," + sql.ph + ")"
        statement = (
            f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES {','.join([row] * rows)} "
            "ON CONFLICT (dedup_key) WHERE resolved_at IS NULL DO UPDATE SET "
            "annotations = excluded.annotations, ends_at = excluded.ends_at, "
            "updated_at = excluded.updated_at, generator_url = excluded.generator_url, "
            "refreshes = alerts.refreshes + 1 "
            "RETURNING id, dedup_key, refreshes"
        )
        for alert_id, key, count in sql.rows(statement, values):
            if count == 0:
                new.append((int(alert_id), key))
            else:
                refreshed += 1
    return new, refreshed


def join_groups(
    sql: Sql,
    tree: RoutingTree,
    alerts: Sequence[tuple[int, AlertInput, str]],
    now: datetime,
    *,
    incidents: bool = True,
) -> int:
    """Add ``(alert id, alert, its labels' JSON)`` to the notify groups ``tree`` puts
    them in (memberships they have already are kept), schedule those groups, and, with
    ``incidents``, the incident work of incident routes.  Returns the memberships added.
    """
    added = 0
    members: list[tuple[int, GroupRef, bytes]] = []
    incident_alerts: list[int] = []
    starts: dict[str, datetime] = {}
    refs: dict[str, GroupRef] = {}
    for alert_id, alert, text in alerts:
        routing = tree.route(alert.labels)
        if not routing.groups:
            continue
        key = None
        for ref in routing.groups:
            if ref.kind == "incident":
                if incidents and (not incident_alerts or incident_alerts[-1] != alert_id):
                    incident_alerts.append(alert_id)
                continue
            key = key or sort_key(alert.labels, text)
            members.append((alert_id, ref, key))
            started = alert.starts_at or now
            if ref.key_hash not in starts or started < starts[ref.key_hash]:
                starts[ref.key_hash] = started
            refs[ref.key_hash] = ref
    if members:
        ids = group_ids(sql, refs.values(), now)
        rows = [(alert_id, ids[ref.key_hash], "new", key) for alert_id, ref, key in members]
        tx = sql.tx
        created = tx.new_groups if tx is not None else {}
        # PostgreSQL: the statement that locks the groups that exist already writes
        # their members too (one round trip for both).
        early = [] if sql.sqlite else [member for member in rows if member[1] not in created]
        # Lock (and schedule) the groups before writing their members: every writer
        # takes a group's lock before its member rows, so none waits in a cycle.
        vanished, joined = touch_groups(
            sql,
            tree,
            {ids[h]: starts[h] for h in refs},
            now=now,
            new_alerts=True,
            members=early,
        )
        if vanished:
            # Pruned since this process cached their ids (alerts.prune deletes groups
            # empty and idle for an hour): make them again.
            again = [ref for h, ref in refs.items() if ids[h] in vanished]
            _forget(_group_cache(sql.engine), [ref.key_hash for ref in again])
            fresh = group_ids(sql, again, now)
            ids.update(fresh)
            touch_groups(
                sql,
                tree,
                {fresh[ref.key_hash]: starts[ref.key_hash] for ref in again},
                now=now,
                new_alerts=True,
            )
            rows = [(alert_id, ids[ref.key_hash], "new", key) for alert_id, ref, key in members]
        if joined is not None:
            # The locking statement wrote these groups' members. A vanished group's
            # members carry its new id now, and are written below.
            added += joined
            locked = {member[1] for member in early}
            rows = [member for member in rows if member[1] not in locked]
        if tx is not None and tx.new_groups:
            _note_new_members(tx, alerts, rows, now)
            if tx.due_now:
                # A group made here and flushed in this transaction gets its members
                # from that flush, written once in their final state (not inserted
                # "new", then updated to "notified" a statement later).
                flushed = set(tx.due_now)
                kept = []
                for member in rows:
                    if member[1] in flushed and member[1] in tx.new_groups:
                        tx.unsaved_members.setdefault(member[1], []).append(member)
                    else:
                        kept.append(member)
                added += len(rows) - len(kept)
                rows = kept
        added += insert_members(sql, rows)
    for alert_id in incident_alerts:
        schedule_incident_work(sql.session, alert_id=alert_id, event="firing", now=now)
    return added


def insert_members(sql: Sql, rows: Sequence[tuple[int, int, str, bytes]]) -> int:
    """Write ``(alert id, group id, state, sort key)`` memberships (existing ones are
    kept); returns how many were added."""
    added = 0
    for start in range(0, len(rows), _CHUNK):
        added += sql.run(*members_statement(sql.ph, rows[start : start + _CHUNK]))
    return added


def members_statement(
    ph: str, rows: Sequence[tuple[int, int, str, bytes]]
) -> tuple[str, list[Any]]:
    """:func:`insert_members` for ``rows`` (at most ``_CHUNK``) as one statement, which
    on PostgreSQL can also run inside another one (as a data-modifying ``WITH``)."""
    row = "(" + ",".join([ph] * MEMBER_PARAMETERS) + ")"
    return (
        "INSERT INTO alert_group_members (alert_id, group_id, state, sort_key) VALUES "
        + ",".join([row] * len(rows))
        + " ON CONFLICT DO NOTHING",
        [value for member in rows for value in member],
    )


def _note_new_members(
    tx: IntakeTransaction,
    alerts: Sequence[tuple[int, AlertInput, str]],
    rows: Sequence[tuple[int, int, str, bytes]],
    now: datetime,
) -> None:
    """Keep, for the groups ``tx`` created, their members as a flush would read them."""
    by_id = {alert_id: alert for alert_id, alert, _ in alerts}
    for alert_id, group_id, _, key in rows:
        if group_id not in tx.new_groups:
            continue
        alert = by_id[alert_id]
        tx.new_members.setdefault(group_id, []).append(
            GroupAlert(
                id=alert_id,
                labels=dict(alert.labels),
                annotations=dict(alert.annotations),
                starts_at=alert.starts_at or now,
                ends_at=alert.ends_at,
                generator_url=alert.generator_url,
                resolved=False,
                sort_key=key,
            )
        )


def group_ids(sql: Sql, refs: Iterable[GroupRef], now: datetime) -> dict[str, int]:
    """Ids of the groups ``refs`` name, creating the missing ones."""
    cache = _group_cache(sql.engine)
    wanted = {ref.key_hash: ref for ref in refs}
    found = {h: cache.ids[h] for h in wanted if h in cache.ids}
    missing = [ref for h, ref in wanted.items() if h not in found]
    if not missing:
        return found
    stamp = sql.time(now)
    row = "(" + sql.marks(6) + f",{sql.false},0,0)"
    params: list[Any] = []
    for ref in missing:
        params += (
            ref.kind,
            ref.route.id,
            ref.key,
            ref.key_hash,
            json.dumps(dict(ref.labels)),
            stamp,
        )
    created = {
        key_hash: int(group_id)
        for group_id, key_hash in sql.rows(
            "INSERT INTO alert_groups (kind, route_id, group_key, key_hash, labels, "
            "created_at, active, notify_seq, last_firing) VALUES "
            + ",".join([row] * len(missing))
            + " ON CONFLICT (key_hash) DO NOTHING RETURNING id, key_hash",
            params,
        )
    }
    if sql.tx is not None:
        sql.tx.new_groups.update((created[h], wanted[h]) for h in created)
    existing = [ref.key_hash for ref in missing if ref.key_hash not in created]
    if existing:  # made by another transaction (since this process last looked)
        created.update(
            (key_hash, int(group_id))
            for group_id, key_hash in sql.rows(
                "SELECT id, key_hash FROM alert_groups "
                f"WHERE key_hash IN ({sql.marks(len(existing))})",
                existing,
            )
        )
    found.update(created)
    _remember_after_commit(sql, cache, created)
    return found


def _remember(cache: _GroupIds, found: dict[str, int]) -> None:
    with cache.lock:
        if len(cache.ids) + len(found) > MAX_CACHED_GROUPS:
            cache.ids.clear()  # bounded; a miss costs one INSERT ... RETURNING
        cache.ids.update(found)


def _forget(cache: _GroupIds, key_hashes: Iterable[str]) -> None:
    with cache.lock:
        for key_hash in key_hashes:
            cache.ids.pop(key_hash, None)


def _remember_after_commit(sql: Sql, cache: _GroupIds, created: dict[str, int]) -> None:
    # Only committed ids may be cached: a rolled-back group row does not exist.
    if sql.tx is not None:
        sql.tx.on_commit.append(lambda: _remember(cache, created))
        return
    session = sql.session
    pending: dict[str, int] = session.info.setdefault("opsbook.alerts.new_groups", {})
    if not pending:

        def remember(committed: Session) -> None:
            _remember(cache, committed.info.pop("opsbook.alerts.new_groups", {}))

        def forget(rolled_back: Session) -> None:
            rolled_back.info.pop("opsbook.alerts.new_groups", None)

        event.listen(session, "after_commit", remember, once=True)
        event.listen(session, "after_rollback", forget, once=True)
    pending.update(created)


def _next_tick(last: datetime, interval: timedelta, now: datetime) -> datetime:
    """The first of ``last + k * interval`` (k >= 1) not before ``now``: Alertmanager
    flushes a group on a fixed beat of ``group_interval`` from its last flush."""
    if interval <= timedelta(0):
        return max(now, last)
    steps = max(1, math.ceil((now - last) / interval))
    return last + steps * interval


def touch_groups(
    sql: Sql,
    tree: RoutingTree,
    changed: Mapping[int, datetime],
    *,
    now: datetime,
    new_alerts: bool,
    members: Sequence[tuple[int, int, str, bytes]] = (),
) -> Touched:
    """Schedule a flush for each changed notify group that has none pending; return the
    ids of ``changed`` that no longer exist (pruned since the caller learnt them).

    On PostgreSQL, ``members`` (rows as :func:`insert_members` takes them, of groups this
    transaction did not create) are written by the statement that locks their groups;
    ``Touched.joined`` then counts those added (members of vanished groups are not
    written).  Otherwise it is ``None`` and the caller writes them.

    ``changed`` maps a group id to the earliest ``startsAt`` among its new alerts (for
    resolutions, anything).  A group that was empty waits ``group_wait`` (or flushes at
    once when an alert started longer ago than that, as Alertmanager does); one with
    notified alerts flushes at its next ``group_interval`` beat.  In an
    :class:`IntakeTransaction` with ``due_now`` set, a group due at once is appended
    there and its timer left to the caller's flush; otherwise the flusher is woken.
    """
    if not changed:
        return Touched(set(), None)
    tx = sql.tx
    due_now = tx.due_now if tx is not None else None
    new_groups = tx.new_groups if tx is not None else {}
    # A group this transaction created is neither visible to others nor flushed yet:
    # empty, inactive, no timer, nothing to lock or read.
    rows: list[Any] = [
        (group_id, new_groups[group_id].route.id, False, None, None)
        for group_id in changed
        if group_id in new_groups
    ]
    ids = sorted(group_id for group_id in changed if group_id not in new_groups)
    vanished: set[int] = set()
    joined: int | None = None
    if ids:
        lock = (
            "SELECT id, route_id, active, next_flush_at, last_flush_at FROM alert_groups "
            f"WHERE id IN ({sql.marks(len(ids))}) ORDER BY id{sql.for_update()}"
        )
        fits = len(ids) + MEMBER_PARAMETERS * len(members) <= MAX_PARAMETERS
        if members and not sql.sqlite and fits:
            found, joined = _lock_and_join(sql, lock, ids, members)
        else:
            found = sql.rows(lock, ids)
        if len(found) < len(ids):
            vanished = set(ids) - {int(row[0]) for row in found}
        rows += found
    updates: list[tuple[Any, ...]] = []
    for group_id, route_id, active, next_flush_at, last_flush_at in rows:
        if next_flush_at is not None:
            continue
        route = tree.by_id.get(route_id) or tree.root
        if not active:
            if not new_alerts:
                continue
            started = changed[group_id]
            due = now if started + route.group_wait < now else now + route.group_wait
        else:
            last = sql.read_time(last_flush_at)
            due = now if last is None else _next_tick(last, route.group_interval, now)
        if due_now is not None and due <= now:
            if group_id not in due_now:  # touched twice: joined, and a resolution
                due_now.append(group_id)  # the caller's flush writes its row
            continue
        updates.append((sql.time(due), group_id))
        sql.mark(due=due if due > now else None, topic=FLUSH_TOPIC)
    sql.many(
        f"UPDATE alert_groups SET next_flush_at = {sql.ph}, active = {sql.true} "
        f"WHERE id = {sql.ph}",
        updates,
    )
    return Touched(vanished, joined)


class Touched(NamedTuple):
    vanished: set[int]
    joined: int | None


def _lock_and_join(
    sql: Sql, lock: str, ids: Sequence[int], members: Sequence[tuple[int, int, str, bytes]]
) -> tuple[list[Any], int]:
    """PostgreSQL: ``lock`` (the groups' rows, locked in id order), and ``members``
    written, in one statement; the groups' rows and how many members were added.

    The insert reads the locked rows, so it runs after the locks are taken (as a
    separate statement would), and skips members of groups that are gone.
    """
    row = "(%s::bigint,%s::bigint,%s::text,%s::bytea)"
    statement = (
        f"WITH g AS ({lock}), m AS (INSERT INTO alert_group_members "
        "(alert_id, group_id, state, sort_key) SELECT v.a, v.g, v.s, v.k FROM (VALUES "
        + ",".join([row] * len(members))
        + ") AS v(a, g, s, k) JOIN g ON g.id = v.g ON CONFLICT DO NOTHING RETURNING 1) "
        "SELECT id, route_id, active, next_flush_at, last_flush_at, "
        "(SELECT count(*) FROM m) FROM g"
    )
    found = sql.rows(statement, [*ids, *(value for member in members for value in member)])
    joined = int(found[0][5]) if found else 0
    return [tuple(r[:5]) for r in found], joined


def schedule_incident_work(session: Session, *, alert_id: int, event: str, now: datetime) -> None:
    schedule(
        session,
        kind=INCIDENT_JOB,
        key=f"{INCIDENT_JOB}:{alert_id}:{event}",
        run_at=now,
        now=now,
        payload={"alert_id": alert_id, "event": event},
    )


def _resolve(
    sql: Sql,
    tree: RoutingTree,
    resolving: Mapping[str, datetime],
    now: datetime,
) -> int:
    stamp = sql.time(now)
    closed: list[tuple[int, Mapping[str, str]]] = []
    for key, ends_at in sorted(resolving.items()):
        for alert_id, labels in sql.rows(
            f"UPDATE alerts SET resolved_at = {sql.ph}, ends_at = {sql.ph}, updated_at = {sql.ph} "
            f"WHERE dedup_key = {sql.ph} AND resolved_at IS NULL RETURNING id, labels",
            (stamp, sql.time(ends_at), stamp, key),
        ):
            closed.append((int(alert_id), json_value(labels)))
    after_resolution(sql, tree, closed, now=now)
    return len(closed)


def after_resolution(
    sql: Sql,
    tree: RoutingTree,
    closed: Sequence[tuple[int, Mapping[str, str]]],
    *,
    now: datetime,
) -> None:
    """Mark resolved alerts in their groups, schedule those flushes and incident work."""
    if not closed:
        return
    ids = [alert_id for alert_id, _ in closed]
    groups: dict[int, datetime] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for (group_id,) in sql.rows(
            "SELECT DISTINCT group_id FROM alert_group_members "
            f"WHERE alert_id IN ({sql.marks(len(chunk))}) AND state IN ('new', 'notified')",
            chunk,
        ):
            groups[int(group_id)] = now
    touch_groups(sql, tree, groups, now=now, new_alerts=False)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        sql.run(
            "UPDATE alert_group_members SET state = CASE state WHEN 'new' THEN 'gone' "
            "ELSE 'resolved' END "
            f"WHERE alert_id IN ({sql.marks(len(chunk))}) AND state IN ('new', 'notified')",
            chunk,
        )
    for alert_id, labels in closed:
        if tree.route(labels).opens_incidents:
            schedule_incident_work(sql.session, alert_id=alert_id, event="resolved", now=now)
    for position, rule in enumerate(tree.inhibit_rules):
        if any(matches_all(rule.source_matchers, labels) for _, labels in closed):
            # An inhibiting alert resolved: its targets may be unmuted now.
            schedule_reevaluation(
                sql.session,
                matchers=[m.to_api() for m in rule.target_matchers],
                reason=f"inhibit_rules[{position}]",
                now=now,
            )


def schedule_reevaluation(
    session: Session, *, matchers: list[dict[str, Any]], reason: str, now: datetime
) -> None:
    """Look again, now, at the open alerts ``matchers`` select (a mute may have ended)."""
    schedule(
        session,
        kind=REEVALUATE_JOB,
        key=f"{REEVALUATE_JOB}:{reason}:{int(now.timestamp() * 1000)}",
        run_at=now,
        now=now,
        payload={"matchers": matchers},
    )
