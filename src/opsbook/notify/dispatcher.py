"""Delivering the outbox: claim due notifications, send them, record what happened.

Each round has three steps, and only the middle one touches the network:

1. claim a batch (one short transaction; the claim is a lease);
2. send the batch concurrently with no transaction open;
3. record each outcome, conditional on still holding the claim (outcomes that finish
   together share one short transaction), and report a final one (delivered, or
   dead) to the record that queued it (``report``: an incident's timeline).

A worker that dies between 1 and 3 loses nothing: its leases expire and another
worker sends those notifications again with the same idempotency key, which is why
delivery is at-least-once and receivers are given the key to drop repeats.

A producer on the worker's own loop may skip step 1: it enqueues its notifications
already claimed, in its own transaction, and hands them to :meth:`Dispatcher.deliver_claimed`
once that commits (the alert group flusher does: a new alert's notification is sent the
moment its flush commits, with no wake-up and no claim in between).  PostgreSQL intake
hands them over while its commit waits for the WAL flush, and their outcomes are
recorded once it is known (see :meth:`Dispatcher.deliver_claimed`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from opsbook.core import outbox
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.core.leases import backoff_delay
from opsbook.notify.base import DeliveryError, OutgoingNotification, Transport
from opsbook.notify.message import Message

log = structlog.get_logger(__name__)

DELIVERY_STATUSES = ("delivered", "pending", "dead", "lost")
# report(session, delivery, status, error, now): a final outcome, in the caller's transaction.
ReportOutcome = Callable[[Session, outbox.Delivery, str, str | None, datetime], None]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt came to.

    ``status`` is the notification's new state: ``delivered``; ``pending`` (it will be
    retried); ``dead`` (no retry can help, or no attempts are left); or ``lost`` (this
    worker no longer held the claim, or could not record the outcome, so the lease
    will expire and the notification will be sent again; or it was handed over while
    its transaction committed, and that transaction rolled back).
    """

    id: int
    channel: str
    status: str
    error: str | None
    latency: timedelta


@dataclass
class _Round:
    semaphore: asyncio.Semaphore
    unsent: dict[int, outbox.Delivery]
    recording: list[asyncio.Future[DeliveryResult]] = field(default_factory=list)
    # Set for claims handed over while their transaction commits: whether it did.
    committed: asyncio.Future[bool] | None = None


class Dispatcher:
    """Sends due notifications through the transports of the configured channels.

    >>> dispatcher = Dispatcher(db, clock, build_transports(config.channels), worker_id)
    >>> results = await dispatcher.run_once()
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        transports: Mapping[str, Transport],
        worker_id: str,
        *,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 50,
        concurrency: int = 8,
        backoff_base: timedelta = timedelta(seconds=5),
        backoff_cap: timedelta = timedelta(hours=1),
        report: ReportOutcome | None = None,
        report_sources: tuple[str, ...] = (),
    ) -> None:
        if concurrency < 1 or batch_size < 1:
            raise ValueError("concurrency and batch_size must be at least 1")
        self.db = db
        self.clock = clock
        self.transports = transports
        self.worker_id = worker_id
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.report = report
        # Sources (prefixes) ``report`` is about; empty: every source.  Others are not
        # reported at all (no savepoint, no call) on this per-notification path.
        self.report_sources = report_sources
        # A send that outlives its lease would race a second worker sending the same
        # notification; cut it off well before, whatever the transport's own timeout.
        self.send_timeout = lease / 2
        self._outcomes: list[tuple[outbox.Delivery, DeliveryError | None, timedelta, Any]] = []
        self._recorder: asyncio.Future[None] | None = None
        self._handed: set[asyncio.Task[Any]] = set()

    async def run_once(self) -> list[DeliveryResult]:
        """Claim one batch of due notifications and deliver it.

        Cancelling it (shutdown) hands the not-yet-sent claims back at once, so another
        worker can send them without waiting out the lease.
        """
        claimed = await self._claim()
        if not claimed:
            return []
        return await self._deliver_all(claimed)

    def deliver_claimed(
        self,
        claimed: Sequence[outbox.Delivery],
        *,
        committed: Awaitable[bool] | None = None,
    ) -> asyncio.Task[Any]:
        """Deliver notifications this worker already holds, beside the claim rounds.

        A producer on this worker's loop that enqueued them claimed
        (:func:`opsbook.core.outbox.enqueue_claimed`) hands them over here right after
        its commit; they are sent and recorded as a round's are.  :meth:`settle` waits
        for what was handed over (a shutdown does, before closing the transports).

        A producer may hand them over *while* its transaction commits, with
        ``committed`` resolving to whether the commit succeeded: they are sent at once,
        and each outcome is recorded only after that.  If it did not commit, the rows do
        not exist: the notification has been sent once for nothing stored, and whatever
        the producer stores on its retry is notified again (at least once, as ever).
        """
        gate = None if committed is None else asyncio.ensure_future(committed)
        task = asyncio.ensure_future(self._deliver_all(list(claimed), committed=gate))
        self._handed.add(task)
        task.add_done_callback(self._handed_done)
        return task

    def _handed_done(self, task: asyncio.Task[Any]) -> None:
        self._handed.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("notify.handed_round_failed", error=repr(task.exception()))

    async def settle(self) -> None:
        """Wait until every handed-over delivery is sent and recorded."""
        while self._handed:
            await asyncio.wait(set(self._handed))

    async def _deliver_all(
        self, claimed: list[outbox.Delivery], *, committed: asyncio.Future[bool] | None = None
    ) -> list[DeliveryResult]:
        round_ = _Round(
            semaphore=asyncio.Semaphore(self.concurrency),
            unsent={delivery.id: delivery for delivery in claimed},
            committed=committed,
        )
        try:
            return list(
                await asyncio.gather(*(self._deliver(delivery, round_) for delivery in claimed))
            )
        except asyncio.CancelledError:
            # Claims exist (and can be handed back) only once their transaction committed.
            if committed is None or await asyncio.shield(committed):
                self._release(round_.unsent.values())
            # Sent notifications are recorded, not released: wait for those writes so
            # the caller's shutdown (closing the loop, the database) cannot cut them off.
            if round_.recording:
                await asyncio.wait(round_.recording)
            raise

    async def drain(self, *, max_rounds: int = 1000) -> list[DeliveryResult]:
        """Run rounds until nothing is due (retries scheduled for later are not due)."""
        results: list[DeliveryResult] = []
        for _ in range(max_rounds):
            batch = await self.run_once()
            if not batch:
                break
            results.extend(batch)
        return results

    async def deliver_round(self) -> int:
        """One round for :class:`opsbook.core.worker.Worker` (its ``deliver``).

        Returns how many notifications were handled; a database outage is logged and
        the round skipped, so the worker keeps going and tries again on its next tick.
        """
        try:
            return len(await self.run_once())
        except Exception as exc:
            log.error("notify.round_failed", worker_id=self.worker_id, error=str(exc))
            return 0

    async def _claim(self) -> list[outbox.Delivery]:
        task = asyncio.ensure_future(
            asyncio.to_thread(
                outbox.claim,
                self.db,
                worker_id=self.worker_id,
                now=self.clock.now(),
                lease=self.lease,
                limit=self.batch_size,
            )
        )
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The claim commits in its thread regardless; wait for it and hand it back
            # rather than leave the rows leased to a worker that is going away.  (If the
            # wait is cancelled too, the leases simply expire.)
            self._release(await asyncio.shield(task))
            raise

    async def _deliver(self, delivery: outbox.Delivery, round_: _Round) -> DeliveryResult:
        async with round_.semaphore:
            started = time.perf_counter()
            error = await self._attempt(delivery)
            latency = timedelta(seconds=time.perf_counter() - started)
        if round_.committed is not None and not await asyncio.shield(round_.committed):
            del round_.unsent[delivery.id]
            log.warning(
                "notify.sent_for_a_rolled_back_transaction",
                notification_id=delivery.id,
                channel=delivery.channel,
            )
            return DeliveryResult(
                delivery.id, delivery.channel, "lost", "its transaction rolled back", latency
            )
        # The outcome is known: from here it is recorded, never released.  The write is
        # shielded because cancelling a thread-pool job that has not started drops it.
        del round_.unsent[delivery.id]
        recording = asyncio.ensure_future(self._record_soon(delivery, error, latency))
        round_.recording.append(recording)
        return await asyncio.shield(recording)

    async def _attempt(self, delivery: outbox.Delivery) -> DeliveryError | None:
        transport = self.transports.get(delivery.channel)
        if transport is None:
            return DeliveryError(
                f'channel "{delivery.channel}" is not configured (renamed or removed from '
                "opsbook.yaml?); restore it and retry the notification, or leave it dead",
                retryable=False,
            )
        try:
            message = Message.from_dict(delivery.message)
        except ValueError as exc:
            return DeliveryError(f"unreadable message: {exc}", retryable=False)
        outgoing = OutgoingNotification(
            notification_id=delivery.id,
            channel=delivery.channel,
            message=message,
            idempotency_key=delivery.idempotency_key,
            target=delivery.target,
            attempt=delivery.attempts,
            sent_at=self.clock.now(),
        )
        try:
            async with asyncio.timeout(self.send_timeout.total_seconds()) as deadline:
                await transport.send(outgoing)
        except DeliveryError as exc:
            return exc
        except TimeoutError:
            if deadline.expired():
                return DeliveryError(
                    f"send did not finish within {self.send_timeout.total_seconds():g}s",
                    retryable=True,
                )
            return DeliveryError("TimeoutError", retryable=True)
        except Exception as exc:
            # A bug in a transport, not a verdict on the notification: keep retrying so
            # a fixed release can still send it, and log it loudly.
            log.exception("notify.transport_crashed", notification_id=delivery.id)
            return DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
        return None

    async def _record_soon(
        self, delivery: outbox.Delivery, error: DeliveryError | None, latency: timedelta
    ) -> DeliveryResult:
        """Record an outcome together with the others that finish meanwhile: one short
        transaction for many (a busy round records in a few, not one per send)."""
        future: asyncio.Future[DeliveryResult] = asyncio.get_running_loop().create_future()
        self._outcomes.append((delivery, error, latency, future))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.ensure_future(self._record_queued())
        return await future

    async def _record_queued(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            results = await asyncio.to_thread(self._record_batch, batch)
            for (*_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _record_batch(
        self,
        batch: list[tuple[outbox.Delivery, DeliveryError | None, timedelta, Any]],
    ) -> list[DeliveryResult]:
        if len(batch) > 1:
            try:
                with self.db.session() as session, session.begin():
                    return [
                        self._record(delivery, error, latency, session=session)
                        for delivery, error, latency, _ in batch
                    ]
            except Exception as exc:  # record each on its own: one bad row, not all
                log.warning("notify.batch_record_failed", error=str(exc))
        return [self._record(delivery, error, latency) for delivery, error, latency, _ in batch]

    def _record(
        self,
        delivery: outbox.Delivery,
        error: DeliveryError | None,
        latency: timedelta,
        *,
        session: Any = None,
    ) -> DeliveryResult:
        context = {
            "notification_id": delivery.id,
            "channel": delivery.channel,
            "kind": delivery.kind,
            "attempt": delivery.attempts,
            "latency_ms": round(latency.total_seconds() * 1000, 1),
        }
        now = self.clock.now()
        retry_after = None if error is None else self._retry_after(delivery, error)
        try:
            if error is None:
                held = (
                    outbox.mark_delivered_in(session, delivery, worker_id=self.worker_id, now=now)
                    if session is not None
                    else outbox.mark_delivered(self.db, delivery, worker_id=self.worker_id, now=now)
                )
                status = "delivered" if held else "lost"
            elif session is not None:
                status = outbox.mark_failed_in(
                    session,
                    delivery,
                    worker_id=self.worker_id,
                    now=now,
                    error=str(error),
                    retry_after=retry_after,
                )
            else:
                status = outbox.mark_failed(
                    self.db,
                    delivery,
                    worker_id=self.worker_id,
                    now=now,
                    error=str(error),
                    retry_after=retry_after,
                )
        except Exception as exc:
            if session is not None:
                raise  # the batch is retried one by one
            log.error("notify.record_failed", **context, error=str(exc))
            return DeliveryResult(delivery.id, delivery.channel, "lost", str(exc), latency)
        message = None if error is None else str(error)
        self._report(delivery, status, message, now, session)
        if status == "delivered":
            log.info("notify.delivered", **context)
        elif status == "lost":
            log.warning("notify.lease_lost", **context)
        elif status == "dead":
            log.error("notify.dead", **context, error=message)
        else:
            retry_in = retry_after.total_seconds() if retry_after is not None else None
            log.warning("notify.failed", **context, error=message, retry_in_s=retry_in)
        return DeliveryResult(delivery.id, delivery.channel, status, message, latency)

    def _report(
        self,
        delivery: outbox.Delivery,
        status: str,
        error: str | None,
        now: datetime,
        session: Session | None,
    ) -> None:
        """Tell the record that queued a notification how it ended (delivered, or dead).

        Batched outcomes report in the batch's transaction, under a savepoint so that a
        failing report never undoes the outcome; a lone outcome reports in a short
        transaction of its own.  A report is a courtesy to the record: it never raises.
        """
        if self.report is None or delivery.source is None or status not in ("delivered", "dead"):
            return
        if self.report_sources and not delivery.source.startswith(self.report_sources):
            return
        try:
            if session is not None:
                with session.begin_nested():
                    self.report(session, delivery, status, error, now)
            else:
                with self.db.session() as own, own.begin():
                    self.report(own, delivery, status, error, now)
        except Exception as exc:
            log.warning("notify.report_failed", notification_id=delivery.id, error=str(exc))

    def _retry_after(self, delivery: outbox.Delivery, error: DeliveryError) -> timedelta | None:
        if not error.retryable:
            return None
        if error.retry_after is not None:
            return error.retry_after
        return backoff_delay(delivery.attempts, base=self.backoff_base, cap=self.backoff_cap)

    def _release(self, deliveries: Iterable[outbox.Delivery]) -> None:
        # Synchronous on purpose: this runs while the task is being cancelled, and a
        # second cancellation must not cut the hand-back short.
        release_claims(self.db, deliveries, worker_id=self.worker_id, now=self.clock.now())


def release_claims(
    db: Database, deliveries: Iterable[outbox.Delivery], *, worker_id: str, now: datetime
) -> None:
    """Hand claims back unsent, so any worker sends them at once; one that cannot be
    handed back (the database going away) is sent once its lease expires."""
    for delivery in list(deliveries):
        try:
            outbox.release(db, delivery, worker_id=worker_id, now=now)
        except Exception as exc:  # the lease will expire instead
            log.warning("notify.release_failed", notification_id=delivery.id, error=str(exc))
        else:
            log.info("notify.released", notification_id=delivery.id, channel=delivery.channel)
