"""The checks' part of a worker: the scheduler, kept in step with opsbook.yaml."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict

import structlog

from opsbook.checks.heartbeat.service import HeartbeatCheck
from opsbook.checks.jobs import Retention
from opsbook.checks.runner import compile_checks
from opsbook.checks.scheduler import Scheduler
from opsbook.checks.state import Transition
from opsbook.config import OpsbookConfig
from opsbook.core.clock import Clock
from opsbook.core.db import Database

log = structlog.get_logger(__name__)

RELOAD_POLL_S = 1.0
STATS_EVERY_S = 60.0


def heartbeat_checks(config: OpsbookConfig) -> Sequence[HeartbeatCheck]:
    return [
        HeartbeatCheck(
            name=check.name,
            config=check.heartbeat,
            fail_after=check.fail_after,
            recover_after=check.recover_after,
        )
        for check in config.checks
        if check.heartbeat is not None
    ]


def retention(config: OpsbookConfig) -> Retention:
    settings = config.settings.checks
    return Retention(keep_raw=settings.keep_raw, keep_minute_rollups=settings.keep_minute_rollups)


class CheckService:
    """Runs the scheduler until stopped; a reloaded config swaps the checks in place."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        config: Callable[[], OpsbookConfig],
        owner: str,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.owner = owner
        self.on_transition = on_transition
        self.scheduler: Scheduler | None = None

    async def __call__(self, stop: asyncio.Event) -> None:
        config = self.config()
        settings = config.settings.checks
        scheduler = Scheduler(
            self.db,
            self.clock,
            compile_checks(config.checks),
            concurrency=settings.concurrency,
            canary=settings.canary,
            owner=self.owner,
            on_transition=self.on_transition,
        )
        self.scheduler = scheduler
        helpers = [
            asyncio.create_task(self._follow_reloads(scheduler, config, stop)),
            asyncio.create_task(self._report(scheduler, stop)),
        ]
        try:
            await scheduler.run(stop)
        finally:
            for helper in helpers:
                helper.cancel()
            log.info("checks.stats", **asdict(scheduler.stats()))

    @staticmethod
    async def _report(scheduler: Scheduler, stop: asyncio.Event) -> None:
        # Start lag and write counters in the log: what an operator (or the benchmark)
        # reads to see whether the scheduler keeps up.
        while not stop.is_set():
            await asyncio.sleep(STATS_EVERY_S)
            log.info("checks.stats", **asdict(scheduler.stats()))

    async def _follow_reloads(
        self, scheduler: Scheduler, config: OpsbookConfig, stop: asyncio.Event
    ) -> None:
        # Reloads happen on another thread (SIGHUP, the API); the scheduler's heap must
        # only be touched from its own loop, so this task notices and applies them.
        while not stop.is_set():
            await asyncio.sleep(RELOAD_POLL_S)
            current = self.config()
            if current is config:
                continue
            try:
                scheduler.reload(compile_checks(current.checks))
                scheduler.canary = current.settings.checks.canary
                config = current
                log.info("checks.reloaded", checks=len(current.checks))
            except Exception:
                log.exception("checks.reload_failed")
                config = current
