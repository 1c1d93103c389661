"""The group flusher: a worker service that flushes notify groups when they fall due.

A group's timers are its row (``next_flush_at``, ``repeat_at``), written by intake in the
transaction that recorded the alerts, so they survive any restart.  Each round claims the
due groups (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers split them; SQLite
serialises writers) and flushes them all in one transaction with the outbox rows they
produce.  Intake's commit wakes the flusher at once (topic ``alerts.flush`` of the
process's :class:`~opsbook.core.wakeup.Wakeup`, and NOTIFY on PostgreSQL), or at the due
time it noted; it also looks every ``POLL`` anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from opsbook.alerts.flush import FlushOutcome, any_expired, due_groups, flush, save_groups
from opsbook.alerts.ingest import FLUSH_TOPIC, Sql
from opsbook.alerts.muting import build_muter
from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.core.outbox import enqueue_many

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

    def run_once(self) -> list[FlushOutcome]:
        """Flush the groups due now (at most ``batch``) in one transaction."""
        now = self.clock.now()
        config = self.config()
        with self.db.session() as session, session.begin():
            sql = Sql(session)
            groups = due_groups(sql, now=now, limit=self.batch)
            if not groups:
                return []
            muter = build_muter(session, config=config.alerts, now=now)
            url = self.external_url()
            expired = any_expired(sql, now)
            notifications: list[dict[str, Any]] = []
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
                )
                for group in groups
            ]
            save_groups(sql, groups)
            enqueue_many(session, rows=notifications, now=now)
            return outcomes

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
