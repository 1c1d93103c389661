"""The process's assembled parts: settings, database, clock, config, job kinds, worker.

Built once by the CLI (or a test) and passed down; nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, SecretStr
from sqlalchemy import delete

from opsbook.alerts.contract import AlertSink
from opsbook.alerts.flusher import GroupFlusher
from opsbook.alerts.ingest import FLUSH_TOPIC
from opsbook.alerts.jobs import register_alert_jobs, schedule_alert_jobs
from opsbook.alerts.reroute import schedule_reroute
from opsbook.alerts.rules.jobs import register_rule_jobs, schedule_rule_jobs
from opsbook.alerts.service import make_sink
from opsbook.checks.jobs import register_check_jobs, schedule_check_jobs
from opsbook.checks.worker import CheckService, heartbeat_checks
from opsbook.checks.worker import retention as check_retention
from opsbook.config import OpsbookConfig, load_config
from opsbook.core.clock import Clock, SystemClock
from opsbook.core.db import Database
from opsbook.core.events import EventBus
from opsbook.core.instance import stored_secret_key
from opsbook.core.jobs import JobContext, JobRegistry, JobRunner, schedule
from opsbook.core.logging import register_secret
from opsbook.core.migrate import upgrade
from opsbook.core.models import Job, Notification
from opsbook.core.outbox import Delivery
from opsbook.core.wakeup import JOBS, OUTBOX, PostgresListener, Wakeup
from opsbook.core.worker import Service, Worker, new_worker_id
from opsbook.incidents.deliveries import REPORTED_SOURCES, report_delivery
from opsbook.incidents.jobs import register_incident_jobs
from opsbook.metrics.jobs import register_metric_jobs, schedule_metric_jobs
from opsbook.metrics.scrape import ScrapeService
from opsbook.notify.base import Transport
from opsbook.notify.dispatcher import Dispatcher, release_claims
from opsbook.notify.registry import build_transports
from opsbook.oncall.auditor import schedule_audit
from opsbook.oncall.jobs import register_oncall_jobs
from opsbook.oncall.paging import env_from
from opsbook.settings import Settings
from opsbook.status.delivery import status_transports
from opsbook.status.jobs import register_status_jobs, schedule_status_jobs

log = structlog.get_logger(__name__)

HOUSEKEEPING_EVERY = timedelta(hours=1)
KEEP_FINISHED_JOBS = timedelta(days=7)
KEEP_DELIVERED_NOTIFICATIONS = timedelta(days=30)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    config: OpsbookConfig
    config_path: Path | None = None
    jobs: JobRegistry = field(default_factory=JobRegistry)
    events: EventBus = field(default_factory=EventBus)
    started_at: datetime | None = None
    # The app's intake endpoints (opsbook.alerts.intake.http.AlertIntake), once serving.
    intake: Any = None
    # This process's worker's group flusher, once built: intake flushes the groups its
    # alerts make due at once through it (opsbook.alerts.committer).
    alert_flusher: GroupFlusher | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        config: OpsbookConfig | None = None,
        clock: Clock | None = None,
        db: Database | None = None,
        migrate: bool = True,
    ) -> Runtime:
        """Load the config, connect and migrate; raises ConfigError on a bad opsbook.yaml."""
        config_path = None if config is not None else settings.config_file
        if config is None:
            config = load_config(settings.config_file)
        database = db or Database.connect(settings.database_url)
        if migrate:
            upgrade(database.engine)
        clock = clock or SystemClock()
        runtime = cls(
            settings=settings,
            db=database,
            clock=clock,
            config=config,
            config_path=config_path,
            started_at=clock.now(),
        )
        runtime._register_secrets()
        # Read (or generate) the signing key now: job handlers sign page links inside a
        # transaction, where reading it would need a second one.
        runtime.secret_key()
        register_core_jobs(runtime.jobs)
        register_check_jobs(
            runtime.jobs,
            heartbeat_checks=lambda: heartbeat_checks(runtime.config),
            retention=lambda: check_retention(runtime.config),
            on_transition=runtime.events.publish,
        )
        register_incident_jobs(runtime.jobs, config=lambda: runtime.config)
        register_status_jobs(runtime.jobs, config=lambda: runtime.config)
        register_oncall_jobs(runtime.jobs, env=env_from(runtime))
        register_metric_jobs(runtime.jobs, config=lambda: runtime.config)
        # Rules hand their alerts to the pipeline inside the evaluation's transaction.
        register_rule_jobs(runtime.jobs, config=lambda: runtime.config, sink=runtime.alert_sink)
        register_alert_jobs(
            runtime.jobs, config=lambda: runtime.config, external_url=runtime.external_url
        )
        return runtime

    @property
    def alert_sink(self) -> AlertSink:
        """Where rules (and any in-process source) hand alerts to the pipeline."""
        return make_sink(lambda: self.config)

    def group_flusher(
        self,
        *,
        hand_off: Callable[[list[Delivery]], None] | None = None,
        worker_id: str = "",
    ) -> GroupFlusher:
        """The worker service that flushes alert groups when they fall due; with
        ``hand_off``, it delivers what it enqueued through that worker's dispatcher."""
        return GroupFlusher(
            db=self.db,
            clock=self.clock,
            config=lambda: self.config,
            external_url=self.external_url,
            hand_off=hand_off,
            worker_id=worker_id,
            lease=self.config.settings.jobs.lease,
        )

    def external_url(self) -> str:
        """How notifications link back: settings.public_url, else the listen address."""
        url = self.config.settings.public_url or self.settings.public_url
        return url or f"http://{self.settings.listen}"

    def reload_config(self) -> OpsbookConfig:
        """Re-read opsbook.yaml; on error the running config stays and ConfigError is raised."""
        if self.config_path is None:
            raise RuntimeError("this instance was not started from a config file")
        config = load_config(self.config_path)
        with self._lock:
            self.config = config
        self._register_secrets()
        with self.db.session() as session, session.begin():
            schedule_reroute(session, now=self.clock.now())  # routes may have changed
        log.info("config.reloaded", path=str(self.config_path))
        return config

    def secret_key(self) -> str:
        """Signs page links and feed tokens: OPSBOOK_SECRET_KEY, else one kept in the DB."""
        if self._secret_key is None:
            configured = self.settings.secret_key
            key = configured.get_secret_value() if configured else stored_secret_key(self.db)
            register_secret(key)
            self._secret_key = key
        return self._secret_key

    def public_base_url(self) -> str:
        """Where people reach this instance: links in pages and feeds start with it."""
        url = self.config.settings.public_url or self.settings.public_url
        return url or f"http://{self.settings.listen}"

    def _register_secrets(self) -> None:
        if self.settings.secret_key is not None:
            register_secret(self.settings.secret_key.get_secret_value())
        for secret in secret_values(self.config):
            register_secret(secret)

    def build_worker(self, *, worker_id: str | None = None) -> Worker:
        worker_id = worker_id or new_worker_id()
        s = self.settings
        jobs_cfg = self.config.settings.jobs
        runner = JobRunner(
            db=self.db,
            registry=self.jobs,
            clock=self.clock,
            worker_id=worker_id,
            lease=jobs_cfg.lease,
            backoff_base=jobs_cfg.backoff_base,
            backoff_cap=jobs_cfg.backoff_cap,
            batch_size=s.job_batch_size,
            services=self,
        )
        deliveries = _Deliveries(self, worker_id)
        checks = CheckService(
            db=self.db,
            clock=self.clock,
            config=lambda: self.config,
            owner=worker_id,
            on_transition=self.events.publish,
        )
        with self.db.session() as session, session.begin():
            schedule_housekeeping(session, now=self.clock.now())
            schedule_check_jobs(session, now=self.clock.now())
            schedule_status_jobs(session, now=self.clock.now())
            schedule_audit(session, now=self.clock.now())
            schedule_metric_jobs(session, now=self.clock.now())
            schedule_rule_jobs(session, rules=self.config.rules, now=self.clock.now())
            schedule_alert_jobs(session, now=self.clock.now())
        scrapes = ScrapeService(
            db=self.db, clock=self.clock, config=lambda: self.config, owner=worker_id
        )
        flusher = self.group_flusher(hand_off=deliveries.hand_off, worker_id=worker_id)
        flusher.live = deliveries.live
        flusher.hand_off_committing = deliveries.hand_off_committing
        self.alert_flusher = flusher
        services: list[Service] = [checks, scrapes, flusher]
        if self.db.dialect == "postgresql":
            # Work committed by other processes (web processes, other workers) wakes us too.
            # A service, so it listens only while the worker runs (a built worker that
            # never runs leaves no thread behind).
            url = self.db.engine.url.render_as_string(hide_password=False)
            services.append(listen_for_wakeups(url, self.db.wakeup))

        async def on_stop() -> None:
            await deliveries.close()

        return Worker(
            db=self.db,
            clock=self.clock,
            jobs=runner,
            deliver=deliveries.round,
            on_stop=on_stop,
            services=services,
            worker_id=worker_id,
            poll_interval=s.worker_poll_interval,
            heartbeat_interval=s.worker_heartbeat_interval,
            wakeup=self.db.wakeup,
        )

    def run_worker_thread(self, stop: threading.Event) -> threading.Thread:
        """Start the worker on its own thread and event loop (``opsbook serve``)."""
        worker = self.build_worker()
        thread = threading.Thread(
            target=lambda: asyncio.run(worker.run(stop)), name="opsbook-worker", daemon=True
        )
        thread.start()
        return thread


class _Deliveries:
    """The worker's outbox dispatcher, rebuilt when the config is reloaded.

    A reload may change a channel's URL or credentials; the next round then uses new
    transports, and the old ones are closed (webhook clients hold connections).
    """

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.config: OpsbookConfig | None = None
        self.dispatcher: Dispatcher | None = None
        self.transports: dict[str, Transport] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def live(self) -> bool:
        """Whether the worker's loop is running its delivery rounds (hand-offs reach it)."""
        loop = self.loop
        return loop is not None and loop.is_running()

    def hand_off(self, claimed: list[Delivery]) -> None:
        """Deliver notifications this worker enqueued claimed; from any thread.

        They are sent on the worker's loop, through a dispatcher of the current config.
        Before the first round, after the loop stopped, or after a reload the rounds
        have not caught up with, the claims go back to the outbox instead and a round
        (with fresh transports) sends them.
        """
        self._hand_off(claimed, None)

    def hand_off_committing(
        self, claimed: list[Delivery], committed: concurrent.futures.Future[bool]
    ) -> None:
        """Like :meth:`hand_off`, for claims whose transaction is committing now, from
        any thread; ``committed`` is set to whether it did.

        They are sent at once, and their outcomes recorded once the commit is known (see
        :meth:`~opsbook.notify.dispatcher.Dispatcher.deliver_claimed`).  Claims that go
        back to the outbox instead go back only after the commit (before it, they do not
        exist).
        """
        self._hand_off(claimed, committed)

    def _hand_off(
        self, claimed: list[Delivery], committed: concurrent.futures.Future[bool] | None
    ) -> None:
        loop = self.loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._deliver_or_release(claimed, committed)
            return
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._deliver_or_release, claimed, committed)
                return
            except RuntimeError:  # that loop has closed
                pass
        self._release_once_committed(claimed, committed)

    def _deliver_or_release(
        self, claimed: list[Delivery], committed: concurrent.futures.Future[bool] | None
    ) -> None:
        if self.dispatcher is not None and self.config is self.runtime.config:
            gate = None if committed is None else asyncio.wrap_future(committed)
            self.dispatcher.deliver_claimed(claimed, committed=gate)
        else:
            self._release_once_committed(claimed, committed)

    def _release_once_committed(
        self, claimed: list[Delivery], committed: concurrent.futures.Future[bool] | None
    ) -> None:
        """Hand ``claimed`` back to the outbox, once their transaction committed (with
        no ``committed``: it has)."""
        if committed is None:
            self._release(claimed)
            return

        def release(done: concurrent.futures.Future[bool]) -> None:
            if not done.cancelled() and done.exception() is None and done.result():
                self._release(claimed)

        # Runs on the committing thread once it sets the result (or here, if it has).
        committed.add_done_callback(release)

    def _release(self, claimed: list[Delivery]) -> None:
        now = self.runtime.clock.now()
        release_claims(self.runtime.db, claimed, worker_id=self.worker_id, now=now)
        self.runtime.db.wakeup.notify(topic=OUTBOX)

    async def round(self) -> int:
        if self.config is not self.runtime.config:
            await self.close()
            config = self.runtime.config
            self.transports = build_transports(config.channels)
            self.transports.update(status_transports(self.runtime.db))
            notifications = config.settings.notifications
            self.dispatcher = Dispatcher(
                db=self.runtime.db,
                clock=self.runtime.clock,
                transports=self.transports,
                worker_id=self.worker_id,
                lease=config.settings.jobs.lease,
                concurrency=self.runtime.settings.delivery_concurrency,
                backoff_base=notifications.backoff_base,
                backoff_cap=notifications.backoff_cap,
                report=report_delivery,
                report_sources=REPORTED_SOURCES,
            )
            self.config = config
        assert self.dispatcher is not None
        self.loop = asyncio.get_running_loop()
        return await self.dispatcher.deliver_round()

    async def close(self) -> None:
        self.loop = None  # from now on, hand-offs go back to the outbox
        if self.dispatcher is not None:
            await self.dispatcher.settle()  # handed-over sends finish on these transports
        for transport in self.transports.values():
            await transport.aclose()
        self.transports = {}


def listen_for_wakeups(url: str, wakeup: Wakeup) -> Service:
    """A worker service: ``LISTEN`` for other processes' commits until the worker stops."""

    async def listen(stop: asyncio.Event) -> None:
        listener = PostgresListener(url, wakeup, topics=(JOBS, FLUSH_TOPIC))
        listener.start()
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(listener.stop)

    return listen


def secret_values(value: Any) -> list[str]:
    """Every secret inside a loaded config, so logs can mask them wherever they appear."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secret_values(getattr(value, name))]
    if isinstance(value, dict):
        return [s for item in value.values() for s in secret_values(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in secret_values(item)]
    return []


def schedule_housekeeping(session: Any, *, now: datetime) -> None:
    slot = now.replace(minute=0, second=0, microsecond=0) + HOUSEKEEPING_EVERY
    schedule(
        session,
        kind="core.housekeeping",
        key=f"core.housekeeping:{slot.isoformat()}",
        run_at=slot,
        now=now,
    )


def housekeeping(ctx: JobContext) -> None:
    """Prune finished jobs and delivered notifications, then book the next run."""
    ctx.session.execute(
        delete(Job).where(
            Job.status.in_(("done", "cancelled")), Job.finished_at < ctx.now - KEEP_FINISHED_JOBS
        )
    )
    ctx.session.execute(
        delete(Notification).where(
            Notification.status == "delivered",
            Notification.delivered_at < ctx.now - KEEP_DELIVERED_NOTIFICATIONS,
        )
    )
    schedule_housekeeping(ctx.session, now=ctx.now)


def register_core_jobs(registry: JobRegistry) -> None:
    registry.register("core.housekeeping", housekeeping)
