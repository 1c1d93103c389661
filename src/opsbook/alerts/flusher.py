"""The group flusher: a worker service that flushes notify groups when they fall due.

A group's timers are its row (``next_flush_at``, ``repeat_at``), written by intake in the
transaction that recorded the alerts, so they survive any restart.  Each round claims the
due groups (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers split them; SQLite
serialises writers) and flushes them all in one transaction with the outbox rows they
produce.  Intake's commit wakes the flusher at once (topic ``alerts.flush`` of the
process's :class:`~opsbook.core.wakeup.Wakeup`, and NOTIFY on PostgreSQL), or at the due
time it noted; it also looks every ``POLL`` anyway.

With ``hand_off`` set (the worker sets it to its dispatcher), the outbox rows a flush
writes are claimed by this worker in the flush's own transaction and handed straight to
the dispatcher once it commits: the notification is on the wire a send's time after the
commit, not a wake-up, a claim transaction and a thread hop later.  If the process dies
in between, the rows' lease expires and any worker sends them (at least once, as ever).

In a process that serves intake *and* runs this worker (``opsbook serve``), a group that
intake's alerts make due at once (a new group with ``group_wait: 0s``, a resolution
after ``group_interval``) is flushed in intake's own transaction (:meth:`flush_in`):
one commit from the POST to the outbox, then the hand-off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from opsbook.alerts.flush import (
    GROUP_PARAMETERS,
    FlushOutcome,
    GroupState,
    due_groups,
    flush,
    groups_by_id,
    new_group_state,
    save_groups,
    save_groups_statement,
)
from opsbook.alerts.ingest import (
    FLUSH_TOPIC,
    MEMBER_PARAMETERS,
    IntakeTransaction,
    Sql,
    Tx,
    insert_members,
    members_statement,
)
from opsbook.alerts.muting import build_muter
from opsbook.alerts.payloads import GroupAlert
from opsbook.alerts.silences import silences_and_expiry
from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import Clock
from opsbook.core.db import MAX_PARAMETERS, Database
from opsbook.core.outbox import CLAIM_PARAMETERS, Delivery, enqueue_claimed, enqueue_many

log = structlog.get_logger(__name__)

POLL = timedelta(seconds=1)
BATCH = 200
ERROR_BACKOFF = 5.0


@dataclass
class GroupFlusher:
    db: Database
    clock: Clock
    config: Callable[[], OpsbookConfig]
    external_url: Callable[[], str]
    batch: int = BATCH
    # Deliver what a flush enqueued, right after its commit (see the module docstring);
    # the rows are claimed by ``worker_id`` for ``lease``.  Called on the thread that
    # flushed (a thread of the pool on PostgreSQL), so it must be thread-safe.
    hand_off: Callable[[list[Delivery]], None] | None = None
    worker_id: str = ""
    lease: timedelta = timedelta(seconds=60)
    # Whether ``hand_off`` reaches a running dispatcher now (see :meth:`flush_in`).
    live: Callable[[], bool] = lambda: False
    # Like ``hand_off``, for claims whose transaction is committing: the second argument
    # is set to whether it committed.  PostgreSQL intake uses it (see :meth:`flush_in`).
    hand_off_committing: Callable[[list[Delivery], Future[bool]], None] | None = None

    def run_once(self) -> list[FlushOutcome]:
        """Flush the groups due now (at most ``batch``) in one transaction."""
        outcomes, claimed = self._flush_due()
        if claimed and self.hand_off is not None:
            self.hand_off(claimed)
        return outcomes

    def flush_in(
        self, tx: IntakeTransaction, group_ids: Sequence[int], *, now: datetime
    ) -> tuple[list[FlushOutcome], list[Delivery]]:
        """Flush ``group_ids``, the groups intake's alerts made due at once, in intake's
        transaction, which has locked them (:func:`~opsbook.alerts.ingest.touch_groups`
        left their timers to this flush).

        The caller gives the returned claims to ``hand_off`` once its transaction
        committed (and only then: a rolled-back claim does not exist), or to
        ``hand_off_committing`` as it commits.
        """
        sql = Sql(tx)
        ids = sorted(set(group_ids))
        # Groups this transaction created are known; the others are read.
        created = tx.new_groups
        states = [new_group_state(i, created[i]) for i in ids if i in created]
        others = [i for i in ids if i not in created]
        if others:
            states += groups_by_id(sql, others)
        for state in states:
            state.active = True
            state.next_flush_at = now  # what touch_groups would have written
        states.sort(key=lambda state: state.id)
        return self._flush(tx, sql, states, now, known=tx.new_members, unsaved=tx.unsaved_members)

    def _flush_due(self) -> tuple[list[FlushOutcome], list[Delivery]]:
        now = self.clock.now()
        with self.db.session() as session, session.begin():
            sql = Sql(session)
            groups = due_groups(sql, now=now, limit=self.batch)
            if not groups:
                return [], []
            return self._flush(session, sql, groups, now)

    def _flush(
        self,
        session: Tx,
        sql: Sql,
        groups: Sequence[GroupState],
        now: datetime,
        known: Mapping[int, Sequence[GroupAlert]] | None = None,
        unsaved: dict[int, list[tuple[int, int, str, bytes]]] | None = None,
    ) -> tuple[list[FlushOutcome], list[Delivery]]:
        config = self.config()
        silences, expired = silences_and_expiry(session, now=now)
        muter = build_muter(session, config=config.alerts, now=now, silences=silences)
        url = self.external_url()
        notifications: list[dict[str, Any]] = []
        # PostgreSQL, handing off: the member rows the flushes write (a new group's,
        # flushed in intake) go into the statement that saves the groups, below.
        folded = self.hand_off is not None and not sql.sqlite and bool(groups)
        deferred: list[tuple[int, int, str, bytes]] | None = [] if folded else None
        outcomes = [
            flush(
                session,
                config=config,
                group=group,
                now=now,
                external_url=url,
                muter=muter,
                outbox=notifications,
                expired=expired,
                members=known.get(group.id) if known else None,
                unsaved=unsaved.pop(group.id, None) if unsaved else None,
                deferred=deferred,
            )
            for group in groups
        ]
        if self.hand_off is None:
            save_groups(sql, groups)
            enqueue_many(sql.session, rows=notifications, now=now)
            return outcomes, []
        before: list[tuple[str, list[Any]]] = []
        if deferred is None:
            save_groups(sql, groups)
        elif (
            GROUP_PARAMETERS * len(groups)
            + MEMBER_PARAMETERS * len(deferred)
            + CLAIM_PARAMETERS * len(notifications)
            <= MAX_PARAMETERS
        ):
            # One statement saves the groups and their new members and enqueues their
            # notifications: on the path from a new alert to its page, each statement is
            # a round trip.
            before.append(save_groups_statement(groups))
            if deferred:
                before.append(members_statement(sql.ph, deferred))
        else:  # too many for one statement
            save_groups(sql, groups)
            insert_members(sql, deferred)
        claimed = enqueue_claimed(
            sql.dbapi,
            dialect=sql.engine.dialect.name,
            rows=notifications,
            now=now,
            worker_id=self.worker_id,
            lease=self.lease,
            before=before,
        )
        return outcomes, claimed

    def run_until_idle(self, max_rounds: int = 100) -> list[FlushOutcome]:
        outcomes: list[FlushOutcome] = []
        for _ in range(max_rounds):
            found = self.run_once()
            if not found:
                break
            outcomes.extend(found)
        return outcomes

    async def __call__(self, stop: asyncio.Event) -> None:
        """Run as a worker service until ``stop`` is set."""
        wakeup = self.db.wakeup
        # SQLite flushes in a millisecond or two, one writer at a time: flush on the
        # worker's loop itself, so a new group's notification is not a thread hop later.
        inline = self.db.dialect == "sqlite"
        while not stop.is_set():
            try:
                found = self.run_once() if inline else await asyncio.to_thread(self.run_once)
            except Exception as exc:
                log.error("alerts.flush_failed", error=f"{type(exc).__name__}: {exc}")
                found = []
                await wakeup.wait(ERROR_BACKOFF, now=self.clock.now, stop=stop.is_set, topic="")
            if len(found) < self.batch:
                await wakeup.wait(
                    POLL.total_seconds(), now=self.clock.now, stop=stop.is_set, topic=FLUSH_TOPIC
                )
