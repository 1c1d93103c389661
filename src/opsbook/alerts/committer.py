"""Group commit for the intake endpoints: many requests, one transaction, each answered
only after that transaction committed.

Requests that arrive while a commit is running wait in a queue (on SQLite, which commits
in well under a millisecond, the commit runs on the event loop itself, so "while" means
"read in the same loop iteration"); when it finishes, the whole queue goes into the next
transaction (one multi-row upsert for all of their alerts). Under load this amortises a
commit over dozens of requests (and the committer waits up to a millisecond for the
senders it just answered, so that their next requests join the next batch); an idle
server commits each request at once. A 2xx is sent only once
:meth:`GroupCommitter.submit` returned, which is after the commit: an acknowledged alert
is on disk (in SQLite's WAL or PostgreSQL's), whatever happens to the process next.

If a batch fails as a whole, each request of it is retried alone, so one request the
database refuses cannot fail the others.

When this process also runs the worker (``opsbook serve``), the notify groups a batch
makes due at once are flushed in the batch's own transaction (if that fails, the retry
of each request alone leaves flushing to the flusher, so a failing flush never fails
the intake), and their notifications are handed to the worker's dispatcher after the
commit; see
:meth:`opsbook.alerts.flusher.GroupFlusher.flush_in`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from opsbook.alerts import ingest
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.flusher import GroupFlusher
from opsbook.alerts.routing import routing_tree
from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import Clock
from opsbook.core.db import Database, execute_raw
from opsbook.core.outbox import Delivery

log = structlog.get_logger(__name__)

Action = Callable[[Session, datetime], Any]
# Queued alerts beyond which new requests are refused (503, or 429 for PagerDuty) until
# the database catches up: memory stays bounded and senders back off.
MAX_QUEUED_ALERTS = 200_000
MAX_BATCH_ALERTS = 20_000
SQLITE_AUTOCHECKPOINT = 1000  # SQLite's default, restored on a connection given back
# psycopg prepares a statement on the server at its 5th execution on a connection.
WARM_UP_ROUNDS = 6
WARM_UP_ALERTNAME = "OpsbookWarmUp"
# How long the committer waits, under load, for the senders it answered (see _gather).
GATHER_WAIT = 0.001


class Overloaded(Exception):
    """Too much is queued already; the sender should retry later."""


@dataclass
class Submission:
    """One request's work: alerts to receive, and/or an action on the same session."""

    alerts: Sequence[AlertInput] = ()
    action: Action | None = None
    future: asyncio.Future[Any] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return max(1, len(self.alerts))


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: Callable[[], OpsbookConfig],
        flusher: Callable[[], GroupFlusher | None] = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.flusher = flusher
        self._queue: deque[Submission] = deque()
        self._queued = 0
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None
        # SQLite commits in microseconds and one writer at a time: commit on the loop
        # itself (no thread hop); PostgreSQL waits on the network: commit on a thread.
        self.inline = False
        self.batches = 0
        self.requests = 0
        self._connection: Connection | None = None
        # While the drainer gathers the next batch: the queue length it waits for, and
        # the event that says it is reached (made per wait: an event is bound to a loop).
        self._wanted = 0
        self._filled: asyncio.Event | None = None

    async def submit(self, submission: Submission) -> Any:
        """Queue ``submission``; return its action's result once its transaction committed."""
        if self._queued + submission.size > MAX_QUEUED_ALERTS:
            raise Overloaded(f"{self._queued} alerts are waiting to be written")
        loop = asyncio.get_running_loop()
        submission.future = loop.create_future()
        self._queue.append(submission)
        self._queued += submission.size
        if self._filled is not None and len(self._queue) >= self._wanted:
            self._filled.set()
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await submission.future

    async def _drain(self) -> None:
        batch: list[Submission] = []
        try:
            while self._queue:
                batch = []
                size = 0
                while self._queue and (not batch or size + self._queue[0].size <= MAX_BATCH_ALERTS):
                    item = self._queue.popleft()
                    batch.append(item)
                    size += item.size
                self._queued -= size
                if self.inline:
                    outcomes = self._commit(batch)
                else:
                    outcomes = await asyncio.to_thread(self._commit, batch)
                self.batches += 1
                self.requests += len(batch)
                for item, outcome in zip(batch, outcomes, strict=True):
                    assert item.future is not None
                    if item.future.done():  # the client went away
                        continue
                    if isinstance(outcome, BaseException):
                        item.future.set_exception(outcome)
                    else:
                        item.future.set_result(outcome)
                if self.inline:
                    # Let the loop answer these and read the next requests: the next
                    # batch is what arrived meanwhile.
                    await asyncio.sleep(0)
                try:
                    await self._gather(len(batch))
                except Exception as exc:  # only an optimisation: never stop the drain
                    log.warning("alerts.intake_gather_failed", error=f"{type(exc).__name__}: {exc}")
        except BaseException as exc:
            # Whatever stopped the drain (a bug; the thread pool shut down; the task
            # cancelled at shutdown), no request is left waiting on it: each gets an
            # error, which its sender retries (a retry of a stored alert is a refresh).
            log.error("alerts.intake_drain_failed", error=f"{type(exc).__name__}: {exc}")
            self._fail_waiting(batch, exc)
            raise
        finally:
            self._draining = False

    def _fail_waiting(self, batch: list[Submission], exc: BaseException) -> None:
        waiting = [*batch, *self._queue]
        self._queue.clear()
        self._queued = 0
        failure = exc if isinstance(exc, Exception) else RuntimeError("intake stopped")
        for item in waiting:
            if item.future is not None and not item.future.done():
                item.future.set_exception(failure)

    async def _gather(self, answered: int) -> None:
        """Under load, let the next batch fill up before committing it.

        The senders of a batch just answered send their next requests a network round
        trip later.  Waiting for them (until the queue has grown by ``answered``, for
        at most ``GATHER_WAIT`` seconds) makes the next batch hold them as well as the
        requests already queued, sharing one commit among them all.  After a batch of
        one (an idle server) nothing waits: the next request is committed at once.
        """
        if answered < 2 or self._queued >= MAX_BATCH_ALERTS:
            return
        self._wanted = len(self._queue) + answered
        filled = self._filled = asyncio.Event()
        try:
            await asyncio.wait_for(filled.wait(), GATHER_WAIT)
        except TimeoutError:
            pass  # fewer came back: the load is easing
        finally:
            self._filled = None

    def _commit(self, batch: list[Submission]) -> list[Any]:
        try:
            return self._transaction(batch, flush=True)
        except Exception as exc:
            log.error(
                "alerts.intake_batch_failed",
                requests=len(batch),
                error=f"{type(exc).__name__}: {exc}",
            )
        # Each request alone, and without flushing in the transaction: whatever failed
        # (one request the database refuses, or the flush), every request it accepts is
        # stored, and the flusher takes their groups.
        outcomes = []
        for item in batch:
            try:
                outcomes.extend(self._transaction([item], flush=False))
            except Exception as exc:
                log.error("alerts.intake_failed", error=f"{type(exc).__name__}: {exc}")
                outcomes.append(exc)
        return outcomes

    def _connect(self) -> Connection:
        """The committer's own connection, kept from batch to batch.

        One writer commits batch after batch; checking a connection out of the pool
        (and back, with its reset) for each was a tenth of intake's CPU.
        """
        if self._connection is None or self._connection.invalidated:
            self._drop_connection()
            self._connection = self.db.engine.connect()
            if self.db.dialect == "sqlite" and self.flusher() is not None:
                # SQLite checkpoints its WAL in whichever commit crosses 1,000 pages, and a
                # checkpoint syncs: 5-7 ms added to that request and to its notification.
                # This process runs a worker, whose commits (a heartbeat every few seconds
                # at least) checkpoint instead; intake's never do.
                self._pragma("wal_autocheckpoint=0")
        return self._connection

    def _pragma(self, setting: str) -> None:
        assert self._connection is not None
        execute_raw(self._connection.connection.dbapi_connection, f"PRAGMA {setting}")

    def _drop_connection(self) -> None:
        connection = self._connection
        if connection is not None and self.db.dialect == "sqlite":
            try:  # back to the pool as any other connection is
                self._pragma(f"wal_autocheckpoint={SQLITE_AUTOCHECKPOINT}")
            except Exception as exc:  # broken: the pool discards it
                log.warning("alerts.intake_connection_reset_failed", error=str(exc))
        self._connection = None
        if connection is not None:
            try:
                connection.close()
            except Exception as exc:  # already broken: the pool discards it
                log.warning("alerts.intake_connection_close_failed", error=str(exc))

    def close(self) -> None:
        """Give the committer's connection back (at shutdown)."""
        self._drop_connection()

    def warm_up(self, rounds: int = WARM_UP_ROUNDS) -> int:
        """Run a new alert's whole intake path ``rounds`` times, each in a transaction
        rolled back, before the server takes requests; return the rounds that ran.

        The first alerts after a start are otherwise the slowest a server takes: its
        connection is not open yet, Python's code paths and caches are cold, and psycopg
        has not prepared intake's statements (it does at their 5th execution).  A dry
        run stores nothing, wakes nobody and sends nothing (on PostgreSQL it uses a few
        sequence numbers).  A failure is logged and the server starts anyway: intake
        reports its own errors when a real request meets them.
        """
        ran = 0
        for round_ in range(rounds):
            probe = AlertInput(
                labels={"alertname": WARM_UP_ALERTNAME, "instance": f"warm-up-{round_}"},
                source="warm-up",
            )
            try:
                self._transaction([Submission(alerts=[probe])], flush=True, dry_run=True)
            except Exception as exc:
                log.warning("alerts.warm_up_failed", error=f"{type(exc).__name__}: {exc}")
                break
            ran += 1
        return ran

    def _transaction(
        self, batch: Sequence[Submission], *, flush: bool, dry_run: bool = False
    ) -> list[Any]:
        config = self.config()
        tree = routing_tree(config.alerts)
        now = self.clock.now()
        alerts = [alert for item in batch for alert in item.alerts]
        flusher = self.flusher() if flush else None
        if flusher is not None and not flusher.live() and not dry_run:
            flusher = None
        claimed: list[Delivery] = []
        # On PostgreSQL a commit waits for its WAL flush (about a millisecond here, and
        # at times a hundred): the notifications are handed over before it, to be sent
        # meanwhile (see Dispatcher.deliver_claimed).
        committing = None
        if flusher is not None and not dry_run and self.db.dialect == "postgresql":
            committing = flusher.hand_off_committing
        committed: Future[bool] | None = None
        try:
            with ingest.IntakeTransaction(self.db, self._connect()) as tx:
                if flusher is not None:
                    tx.due_now = []
                if alerts:
                    ingest.receive(tx, tree=tree, alerts=alerts, now=now)
                outcomes = [item.action(tx.session, now) if item.action else None for item in batch]
                if flusher is not None and tx.due_now:
                    _, claimed = flusher.flush_in(tx, tx.due_now, now=now)
                if dry_run:
                    tx.discard()
                    claimed = []
                if claimed and committing is not None:
                    committed = Future()
                    committing(claimed, committed)
                    claimed = []
        except BaseException:
            if committed is not None:
                committed.set_result(False)
            self._drop_connection()  # it may be what failed: the next batch takes a fresh one
            raise
        if committed is not None:
            committed.set_result(True)
        if flusher is not None and claimed and flusher.hand_off is not None:
            flusher.hand_off(claimed)
        return outcomes
