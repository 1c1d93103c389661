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
# What the worker's two loops wait for: due jobs, and due notifications (the outbox).  A
# service with work of its own (a flusher of alert groups, say) marks and waits on a
# topic of its own, so its commits do not wake the job loop for nothing.
JOBS = "jobs"
OUTBOX = "outbox"


class Wakeup:
    """What a worker waits on: woken at once by :meth:`notify`, or at a due time.

    Each topic keeps its own signal and due times; a waiter wakes for its topic only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signalled: set[str] = set()
        self._due: dict[str, list[datetime]] = {}
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event, str]] = set()

    def notify(self, due: datetime | None = None, *, topic: str = JOBS) -> None:
        """Work was committed: due now (``None``) or at ``due``.  Safe from any thread."""
        with self._lock:
            if due is None:
                self._signalled.add(topic)
            else:
                times = self._due.setdefault(topic, [])
                if len(times) < _MAX_DUE_TIMES:
                    heapq.heappush(times, due)
            waiters = [(loop, waiter) for loop, waiter, t in self._waiters if t == topic]
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(waiter.set)

    def pending(self, now: datetime, *, topic: str = JOBS) -> bool:
        """Whether ``topic`` has work signalled (or fallen due) that no waiter took yet."""
        with self._lock:
            times = self._due.get(topic)
            return topic in self._signalled or bool(times and times[0] <= now)

    def _next_due(self, now: datetime, topic: str) -> float | None:
        """Seconds until the earliest known due time (0 when due), or None."""
        with self._lock:
            if topic in self._signalled:
                self._signalled.discard(topic)
                return 0.0
            times = self._due.get(topic)
            if not times:
                return None
            earliest = times[0]
            if earliest <= now:
                while times and times[0] <= now:
                    heapq.heappop(times)
                return 0.0
            return (earliest - now).total_seconds()

    async def wait(
        self,
        seconds: float,
        *,
        now: Callable[[], datetime],
        stop: Callable[[], bool],
        topic: str = JOBS,
    ) -> None:
        """Wait up to ``seconds``, less if work is (or falls) due, or until ``stop()``."""
        loop = asyncio.get_running_loop()
        waiter = asyncio.Event()
        entry = (loop, waiter, topic)
        with self._lock:
            self._waiters.add(entry)
        try:
            deadline = loop.time() + seconds
            while not stop():
                remaining = deadline - loop.time()
                due_in = self._next_due(now(), topic)
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


def mark(session: Session, *, due: datetime | None = None, topic: str = JOBS) -> None:
    """Wake the ``topic``'s waiter when this session's transaction commits (work due at
    ``due``, or at once)."""
    session.info.setdefault(_MARKS_KEY, []).append((topic, due))


def install(factory: sessionmaker[Session], wakeup: Wakeup) -> None:
    """Make sessions of ``factory`` carry their marks to ``wakeup`` (and NOTIFY on PG)."""
    factory.kw.setdefault("info", {})[_INFO_KEY] = wakeup
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_rollback", _after_rollback)


Marks = list[tuple[str, datetime | None]]


def notify_payloads(marks: Marks) -> list[str]:
    """The ``pg_notify(CHANNEL, payload)`` payloads that carry ``marks`` to other processes;
    sent inside the transaction, so they are delivered only if it commits."""
    return [f"{topic} {due.isoformat() if due else ''}" for topic, due in _by_topic(marks).items()]


def wake(wakeup: Wakeup, marks: Marks) -> None:
    """Wake this process's waiters for ``marks``, once their transaction committed."""
    for topic, due in _by_topic(marks).items():
        wakeup.notify(due, topic=topic)


def _by_topic(marks: Marks) -> dict[str, datetime | None]:
    """The earliest due time per topic (None: at once)."""
    earliest: dict[str, datetime | None] = {}
    for topic, due in marks:
        if topic not in earliest:
            earliest[topic] = due
        else:
            current = earliest[topic]
            earliest[topic] = None if current is None or due is None else min(current, due)
    return earliest


def _before_commit(session: Session) -> None:
    marks = session.info.get(_MARKS_KEY)
    if not marks:
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        for payload in notify_payloads(marks):
            session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": payload},
            )


def _after_commit(session: Session) -> None:
    marks = session.info.pop(_MARKS_KEY, None)
    wakeup: Wakeup | None = session.info.get(_INFO_KEY)
    if not marks or wakeup is None:
        return
    wake(wakeup, marks)


def _after_rollback(session: Session) -> None:
    session.info.pop(_MARKS_KEY, None)


class PostgresListener:
    """``LISTEN opsbook_wakeup`` on its own connection, on a thread, until stopped."""

    def __init__(
        self,
        url: str,
        wakeup: Wakeup,
        *,
        retry_after: float = 2.0,
        topics: tuple[str, ...] = (JOBS,),
    ) -> None:
        self.url = url
        self.wakeup = wakeup
        self.topics = topics
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
                    # The job loop's topic stands for the worker's outbox loop too.
                    for topic in self.topics + ((OUTBOX,) if JOBS in self.topics else ()):
                        self.wakeup.notify(topic=topic)
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            topic, due = _parse(notice.payload)
                            self.wakeup.notify(due, topic=topic)
            except Exception as exc:
                log.warning("wakeup.listen_failed", error=f"{type(exc).__name__}: {exc}")
                self._stop.wait(self.retry_after)


def _parse(payload: str) -> tuple[str, datetime | None]:
    topic, _, due = payload.partition(" ")
    if not due:
        return topic or JOBS, None
    try:
        return topic or JOBS, datetime.fromisoformat(due)
    except ValueError:
        return topic or JOBS, None
