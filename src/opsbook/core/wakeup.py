"""Waking the worker when work is committed, instead of waiting for its next poll.

A job scheduled or a notification enqueued in a transaction is *marked* on the session
(:func:`mark`); when that transaction commits, the process's :class:`Wakeup` wakes its
worker at once (or, for work due later, at the due time), so a page goes out within
milliseconds rather than up to ``settings.worker_poll_interval`` later.  A rollback
drops the marks: nothing was committed, so there is nothing to do.

On PostgreSQL the same commit also sends ``NOTIFY opsbook_wakeup`` (inside the
transaction, so it is delivered only if the transaction commits), and every worker
process runs a :class:`PostgresListener` that turns those notifications into local
wake-ups: work enqueued by a web process reaches a worker process just as fast.

Polling stays as the safety net: a lost wake-up (a listener reconnecting, a clock
jump) costs at most one poll interval, never a lost job.  Use it from any domain::

    schedule(session, kind=..., run_at=due, now=now)   # marks the session itself
    mark(session, due=due)                              # for other kinds of work
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import threading
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

log = structlog.get_logger(__name__)

CHANNEL = "opsbook_wakeup"
_INFO_KEY = "opsbook.wakeup"
_MARKS_KEY = "opsbook.wakeup.marks"
_MAX_DUE_TIMES = 4096


class Wakeup:
    """What a worker waits on: woken at once by :meth:`notify`, or at a due time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signalled = False
        self._due: list[datetime] = []
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self, due: datetime | None = None) -> None:
        """Work was committed: due now (``None``) or at ``due``.  Safe from any thread."""
        with self._lock:
            if due is None:
                self._signalled = True
            elif len(self._due) < _MAX_DUE_TIMES:
                heapq.heappush(self._due, due)
            waiters = list(self._waiters)
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(waiter.set)

    def _next_due(self, now: datetime) -> float | None:
        """Seconds until the earliest known due time (0 when due), or None."""
        with self._lock:
            if self._signalled:
                self._signalled = False
                return 0.0
            if not self._due:
                return None
            earliest = self._due[0]
            if earliest <= now:
                while self._due and self._due[0] <= now:
                    heapq.heappop(self._due)
                return 0.0
            return (earliest - now).total_seconds()

    async def wait(
        self, seconds: float, *, now: Callable[[], datetime], stop: Callable[[], bool]
    ) -> None:
        """Wait up to ``seconds``, less if work is (or falls) due, or until ``stop()``."""
        loop = asyncio.get_running_loop()
        waiter = asyncio.Event()
        entry = (loop, waiter)
        with self._lock:
            self._waiters.add(entry)
        try:
            deadline = loop.time() + seconds
            while not stop():
                remaining = deadline - loop.time()
                due_in = self._next_due(now())
                if due_in is not None:
                    remaining = min(remaining, due_in)
                if remaining <= 0:
                    return
                waiter.clear()
                # Short slices: a threading stop event cannot wake an asyncio wait.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), timeout=min(remaining, 0.05))
        finally:
            with self._lock:
                self._waiters.discard(entry)


def mark(session: Session, *, due: datetime | None = None) -> None:
    """Wake the worker when this session's transaction commits (work due at ``due``)."""
    session.info.setdefault(_MARKS_KEY, []).append(due)


def install(factory: sessionmaker[Session], wakeup: Wakeup) -> None:
    """Make sessions of ``factory`` carry their marks to ``wakeup`` (and NOTIFY on PG)."""
    factory.kw.setdefault("info", {})[_INFO_KEY] = wakeup
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_rollback", _after_rollback)


def _before_commit(session: Session) -> None:
    marks = session.info.get(_MARKS_KEY)
    if not marks:
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        due = _earliest(marks)
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": due.isoformat() if due else ""},
        )


def _after_commit(session: Session) -> None:
    marks = session.info.pop(_MARKS_KEY, None)
    wakeup: Wakeup | None = session.info.get(_INFO_KEY)
    if not marks or wakeup is None:
        return
    due = _earliest(marks)
    wakeup.notify(due)


def _after_rollback(session: Session) -> None:
    session.info.pop(_MARKS_KEY, None)


def _earliest(marks: list[datetime | None]) -> datetime | None:
    if any(due is None for due in marks):
        return None
    return min(due for due in marks if due is not None)


class PostgresListener:
    """``LISTEN opsbook_wakeup`` on its own connection, on a thread, until stopped."""

    def __init__(self, url: str, wakeup: Wakeup, *, retry_after: float = 2.0) -> None:
        self.url = url
        self.wakeup = wakeup
        self.retry_after = retry_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="opsbook-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        dsn = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Anything committed while we were not listening: look again now.
                    self.wakeup.notify()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self.wakeup.notify(_parse_due(notice.payload))
            except Exception as exc:
                log.warning("wakeup.listen_failed", error=f"{type(exc).__name__}: {exc}")
                self._stop.wait(self.retry_after)


def _parse_due(payload: str) -> datetime | None:
    if not payload:
        return None
    try:
        return datetime.fromisoformat(payload)
    except ValueError:
        return None
