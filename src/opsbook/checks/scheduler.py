"""The check scheduler: one timer heap, a global concurrency limit, batched writes.

Each check fires at ``k * every + phase_offset(name, every)`` since the Unix epoch, the
offset taken from a stable hash of its name: 1,000 checks with the same ``every`` are
spread across the interval, and a check fires at the same offset after a restart.

One loop sleeps until the earliest fire time (no task per check sleeping on its own),
starts what is due under a semaphore, and collects the results in memory; a flusher
writes them in batches (every ``batch_interval`` or ``batch_size`` results) in a thread,
so the event loop never waits on the database.  Transitions are announced to
``on_transition`` after their batch commits.  With ``leases`` (the default) schedulers
sharing one database split the checks between them (:mod:`opsbook.checks.leases`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from opsbook.checks.canary import canary_failing, mark_unknown
from opsbook.checks.leases import claim_checks, ensure_lease_rows, release_checks
from opsbook.checks.result import CheckResult, Reason, RunnableCheck
from opsbook.checks.service import record_results
from opsbook.checks.state import Thresholds, Transition
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.core.worker import new_worker_id

log = structlog.get_logger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# Results kept in memory while the database is unreachable; past that the oldest go.
MAX_PENDING_RESULTS = 200_000
LAG_SAMPLES = 10_000


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _US


def phase_offset(name: str, every: timedelta) -> timedelta:
    """Where in each interval ``name`` fires: uniform over names, the same in every process."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    period = max(1, every // _US)
    return timedelta(microseconds=(int.from_bytes(digest, "big") * period) >> 64)


def next_fire(name: str, every: timedelta, *, at_or_after: datetime) -> datetime:
    """The first fire time of ``name`` at or after ``at_or_after``."""
    period = max(1, every // _US)
    offset = phase_offset(name, every) // _US
    now = _micros(at_or_after)
    return _EPOCH + timedelta(microseconds=now + (offset - now) % period)


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """Counters since start, and start lag (actual start minus fire time) percentiles."""

    owned_checks: int
    started: int
    skipped_overlapping: int
    results_written: int
    batches_written: int
    write_errors: int
    pending_results: int
    lag_p50: float
    lag_p95: float
    lag_p99: float
    lag_max: float


class Scheduler:
    """Runs checks on their schedule: ``await scheduler.run(stop)``.

    Tests drive it under a fake clock with :meth:`due`, :meth:`run_due`, :meth:`flush`
    and :meth:`renew_leases` instead of :meth:`run`.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        checks: Sequence[RunnableCheck],
        *,
        concurrency: int = 100,
        canary: str | None = None,
        batch_interval: timedelta = timedelta(seconds=1),
        batch_size: int = 500,
        on_transition: Callable[[Transition], None] | None = None,
        owner: str | None = None,
        leases: bool = True,
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self.db = db
        self.clock = clock
        self.canary = canary
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self.on_transition = on_transition
        self.owner = owner or new_worker_id()
        self.leases = leases
        self.lease = lease
        self._semaphore = asyncio.Semaphore(concurrency)
        self._checks: dict[str, RunnableCheck] = {}
        self._thresholds: dict[str, Thresholds] = {}
        self._owned: frozenset[str] = frozenset()
        self._heap: list[tuple[int, str]] = []
        self._fire_at: dict[str, int] = {}  # the live heap entry of each scheduled check
        self._in_flight: set[str] = set()
        self._pending: list[CheckResult] = []
        self._flush_lock = asyncio.Lock()
        self._flush_now = asyncio.Event()
        self._wake = asyncio.Event()
        self._lease_rows_for: frozenset[str] = frozenset()
        self._last_renewed: datetime | None = None
        self._lag: deque[float] = deque(maxlen=LAG_SAMPLES)
        self._lag_max = 0.0
        self._counts = {"started": 0, "skipped": 0, "written": 0, "batches": 0, "errors": 0}
        self._counts_lock = threading.Lock()
        self.reload(checks)

    # -- the schedule ---------------------------------------------------------------

    def reload(self, checks: Sequence[RunnableCheck]) -> None:
        """Swap in a new check list; unchanged checks keep their slot and stored state."""
        old = self._checks
        self._checks = {check.name: check for check in checks}
        self._thresholds = {
            check.name: Thresholds(check.fail_after, check.recover_after) for check in checks
        }
        for name in list(self._fire_at):
            if name not in self._checks or self._checks[name].every != old[name].every:
                del self._fire_at[name]  # its heap entry is now stale and will be skipped
        owned = frozenset(self._checks) if not self.leases else self._owned & set(self._checks)
        self._own(owned)
        self._wake.set()

    def _own(self, names: frozenset[str]) -> None:
        self._owned = names
        for name in list(self._fire_at):
            if name not in names:
                del self._fire_at[name]
        now = self.clock.now()
        for name in names - self._fire_at.keys():
            fire = _micros(next_fire(name, self._checks[name].every, at_or_after=now))
            self._fire_at[name] = fire
            heapq.heappush(self._heap, (fire, name))

    def owned(self) -> frozenset[str]:
        return self._owned

    def due(self, now: datetime) -> list[tuple[RunnableCheck, datetime]]:
        """Pop the checks due at ``now`` with their fire times, and book their next fire."""
        due: list[tuple[RunnableCheck, datetime]] = []
        limit = _micros(now)
        while self._heap and self._heap[0][0] <= limit:
            fire, name = heapq.heappop(self._heap)
            if self._fire_at.get(name) != fire:
                continue  # removed, rescheduled or no longer ours
            check = self._checks[name]
            period = max(1, check.every // _US)
            following = fire + period
            if following <= limit:  # fell behind (a pause): skip missed fires, do not burst
                following = limit + 1 + (fire - limit - 1) % period
            self._fire_at[name] = following
            heapq.heappush(self._heap, (following, name))
            due.append((check, _EPOCH + timedelta(microseconds=fire)))
        return due

    def _seconds_until_next(self, now: datetime) -> float:
        while self._heap and self._fire_at.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if not self._heap:
            return 1.0
        return max(0.0, (self._heap[0][0] - _micros(now)) / 1e6)

    # -- running checks -------------------------------------------------------------

    def start_due(self, now: datetime) -> list[asyncio.Task[None]]:
        tasks = []
        for check, scheduled in self.due(now):
            if check.name in self._in_flight:
                # The previous run is still going (timeout longer than every): skip this one.
                self._count("skipped")
                continue
            self._in_flight.add(check.name)
            tasks.append(asyncio.create_task(self._run_one(check, scheduled)))
        return tasks

    async def run_due(self, now: datetime) -> None:
        """Run every check due at ``now`` and wait for them (results wait for a flush)."""
        await asyncio.gather(*self.start_due(now))

    async def _run_one(self, check: RunnableCheck, scheduled: datetime) -> None:
        try:
            async with self._semaphore:
                started_at = self.clock.now()
                self._record_lag((started_at - scheduled).total_seconds())
                self._count("started")
                result = await self._guarded_run(check, started_at)
        finally:
            self._in_flight.discard(check.name)
        self._pending.append(result)
        if len(self._pending) >= self.batch_size:
            self._flush_now.set()

    async def _guarded_run(self, check: RunnableCheck, started_at: datetime) -> CheckResult:
        # A check enforces its own timeout; this guard only catches one that does not.
        limit = check.timeout.total_seconds() + 1.0
        try:
            async with asyncio.timeout(limit):
                return await check.run(started_at=started_at)
        except TimeoutError:
            reason = Reason("timeout", f"no result within {limit:g}s")
        except Exception as exc:  # run() must not raise; if it does, it is a failed run
            log.exception("checks.run_raised", check=check.name)
            reason = Reason("error", f"{type(exc).__name__}: {exc}")
        timings = {"total": (self.clock.now() - started_at).total_seconds()}
        return CheckResult(
            check=check.name,
            kind=check.kind,
            started_at=started_at,
            ok=False,
            status="down",
            reason=reason,
            timings=timings,
        )

    def _record_lag(self, seconds: float) -> None:
        self._lag.append(seconds)
        self._lag_max = max(self._lag_max, seconds)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._counts_lock:
            self._counts[name] += amount

    # -- writing results --------------------------------------------------------------

    async def flush(self) -> list[Transition]:
        """Write the pending results in one transaction, then announce its transitions."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return []
            try:
                transitions = await asyncio.to_thread(self._write, batch)
            except Exception as exc:
                log.exception("checks.write_failed", results=len(batch), error=str(exc))
                self._count("errors")
                self._pending = (batch + self._pending)[-MAX_PENDING_RESULTS:]
                return []
        for transition in transitions:
            if self.on_transition is not None:
                try:
                    self.on_transition(transition)
                except Exception:
                    log.exception("checks.on_transition_failed", check=transition.check)
        return transitions

    def _write(self, batch: list[CheckResult]) -> list[Transition]:
        with self.db.session() as session, session.begin():
            if self.canary is not None and canary_failing(session, canary=self.canary, batch=batch):
                batch = mark_unknown(batch, canary=self.canary)
            transitions = record_results(
                session, results=batch, now=self.clock.now(), thresholds=self._thresholds
            )
        self._count("written", len(batch))
        self._count("batches")
        return transitions

    # -- leases -------------------------------------------------------------------------

    async def renew_leases(self) -> frozenset[str]:
        """One ownership round; the checks this scheduler runs from now on."""
        names = frozenset(self._checks)
        now = self.clock.now()
        try:
            held = await asyncio.to_thread(self._lease_round, names, now)
        except Exception as exc:
            log.exception("checks.lease_round_failed", error=str(exc))
            # Past our lease others may have taken our checks; stop rather than run twice.
            if self._last_renewed is None or now - self._last_renewed >= self.lease:
                self._own(frozenset())
            return self._owned
        self._last_renewed = now
        self._own(held & frozenset(self._checks))
        return self._owned

    def _lease_round(self, names: frozenset[str], now: datetime) -> frozenset[str]:
        with self.db.session() as session, session.begin():
            if names != self._lease_rows_for:
                ensure_lease_rows(session, checks=names)
            held = claim_checks(session, owner=self.owner, checks=names, now=now, lease=self.lease)
        self._lease_rows_for = names
        return held

    # -- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Schedule, run and record until ``stop`` is set; then drain and give back leases."""
        tasks: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()
        flusher = asyncio.create_task(self._flush_loop(finished))
        helpers = []
        if self.leases:
            await self.renew_leases()
            helpers.append(asyncio.create_task(self._lease_loop(stop)))
        log.info("checks.scheduler_started", owner=self.owner, checks=len(self._checks))
        try:
            while not stop.is_set():
                for task in self.start_due(self.clock.now()):
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                delay = min(self._seconds_until_next(self.clock.now()), 1.0)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
        finally:
            # In-flight runs are bounded by their timeouts; let them finish and be written.
            await asyncio.gather(*tasks, return_exceptions=True)
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            # The flush loop is told to end, never cancelled: a cancelled write that was
            # still queued for a thread would drop its batch.
            finished.set()
            self._flush_now.set()
            await asyncio.gather(flusher, return_exceptions=True)
            await self.flush()
            if self.leases:
                await asyncio.to_thread(self._release)
            log.info("checks.scheduler_stopped", owner=self.owner)

    async def _flush_loop(self, finished: asyncio.Event) -> None:
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._flush_now.wait(), timeout=self.batch_interval.total_seconds()
                )
            self._flush_now.clear()
            await self.flush()

    async def _lease_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.lease.total_seconds() / 3)
            await self.renew_leases()
            self._wake.set()

    def _release(self) -> None:
        try:
            with self.db.session() as session, session.begin():
                release_checks(session, owner=self.owner)
        except Exception as exc:  # the database may be what is going away
            log.warning("checks.release_failed", error=str(exc))

    def stats(self) -> SchedulerStats:
        lags = sorted(self._lag)

        def pct(percent: int) -> float:
            if not lags:
                return 0.0
            rank = max(1, -(-percent * len(lags) // 100))
            return lags[rank - 1]

        with self._counts_lock:
            counts = dict(self._counts)
        return SchedulerStats(
            owned_checks=len(self._owned),
            started=counts["started"],
            skipped_overlapping=counts["skipped"],
            results_written=counts["written"],
            batches_written=counts["batches"],
            write_errors=counts["errors"],
            pending_results=len(self._pending),
            lag_p50=pct(50),
            lag_p95=pct(95),
            lag_p99=pct(99),
            lag_max=self._lag_max,
        )
