"""Scraping Prometheus exposition endpoints into the store: the worker's scrape service.

Each target fires at ``k * every + offset(name)`` (the checks scheduler's spreading).
Before scraping a slot a worker claims it with a compare-and-set on
``metric_scrape_targets.last_slot_ms``, so however many workers run, one scrapes each
slot, and a dead worker's targets are scraped by the others from the next slot on.

Every scrape also writes, as Prometheus does, ``up`` (1 when the scrape succeeded),
``scrape_duration_seconds`` and ``scrape_samples_scraped`` for the target.  Samples
are stamped with the scrape's start; timestamps in the exposition are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session

from opsbook import __version__
from opsbook.checks.scheduler import next_fire
from opsbook.config import OpsbookConfig
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.metrics.config import ScrapeTargetConfig
from opsbook.metrics.exposition import ExpositionError, is_storable, parse_exposition
from opsbook.metrics.models import ScrapeTargetState
from opsbook.metrics.store import (
    LABEL_NAME,
    Sample,
    SeriesCache,
    insert_for,
    to_ms,
    write_samples,
)

log = structlog.get_logger(__name__)

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
MAX_BODY_BYTES = 50 * 1024 * 1024
_IDLE_S = 1.0


@dataclass(frozen=True, slots=True)
class ScrapeOutcome:
    target: str
    up: bool
    samples: int
    duration_s: float
    error: str | None = None


def instance_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def target_labels(target: ScrapeTargetConfig, scraped: dict[str, str]) -> dict[str, str]:
    """The stored labels of a scraped series: the target's, merged as ``honor_labels`` says."""
    own = {**target.labels, "job": target.name, "instance": instance_of(target.url)}
    if target.honor_labels:
        return {**own, **scraped}
    merged = dict(scraped)
    for label, value in own.items():
        if label in merged and merged[label] != "":
            merged[f"exported_{label}"] = merged[label]
        merged[label] = value
    return merged


def _ensure_row(session: Session, target: str) -> None:
    session.execute(
        insert_for(session)(ScrapeTargetState)
        .values(target=target, last_slot_ms=None)
        .on_conflict_do_nothing(index_elements=["target"])
    )


def claim_slot(session: Session, *, target: str, slot_ms: int, owner: str) -> bool:
    """Whether this worker scrapes ``target`` for ``slot_ms`` (no one else has)."""
    _ensure_row(session, target)
    claimed = session.execute(
        update(ScrapeTargetState)
        .where(
            ScrapeTargetState.target == target,
            (ScrapeTargetState.last_slot_ms.is_(None)) | (ScrapeTargetState.last_slot_ms < slot_ms),
        )
        .values(last_slot_ms=slot_ms, owner=owner)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


async def fetch(client: httpx.AsyncClient, target: ScrapeTargetConfig) -> str:
    headers = {
        "Accept": ACCEPT,
        "User-Agent": f"Opsbook/{__version__}",
        "X-Prometheus-Scrape-Timeout-Seconds": f"{target.timeout.total_seconds():g}",
        **target.headers,
    }
    if target.bearer_token is not None:
        headers["Authorization"] = f"Bearer {target.bearer_token.get_secret_value()}"
    response = await client.get(target.url, headers=headers, timeout=target.timeout.total_seconds())
    if response.status_code != 200:
        raise ExpositionError(f"HTTP {response.status_code}")
    if len(response.content) > MAX_BODY_BYTES:
        raise ExpositionError("the body is larger than 50 MB")
    return response.text


def record_scrape(
    session: Session,
    *,
    target: ScrapeTargetConfig,
    at: datetime,
    body: str | None,
    error: str | None,
    duration_s: float,
    cache: SeriesCache | None,
) -> ScrapeOutcome:
    """Parse and store one scrape (or its failure) with its ``up`` series."""
    samples: list[Sample] = []
    if body is not None and error is None:
        try:
            exposition = parse_exposition(body)
        except ExpositionError as exc:
            error = f"not the Prometheus text format: {exc}"
        else:
            for exposed in exposition.samples:
                if not is_storable(exposed.value):
                    continue
                labels = {k: v for k, v in exposed.labels.items() if LABEL_NAME.fullmatch(k)}
                samples.append(
                    Sample(exposed.name, target_labels(target, labels), exposed.value, at)
                )
    up = error is None
    own = target_labels(target, {})
    scraped = len(samples)
    samples += [
        Sample("up", own, 1.0 if up else 0.0, at),
        Sample("scrape_duration_seconds", own, duration_s, at),
        Sample("scrape_samples_scraped", own, float(scraped), at),
    ]
    write_samples(session, samples=samples, now=at, cache=cache)
    _ensure_row(session, target.name)
    session.execute(
        update(ScrapeTargetState)
        .where(ScrapeTargetState.target == target.name)
        .values(
            last_scrape_at=at,
            last_duration_ms=duration_s * 1000,
            last_samples=scraped,
            up=up,
            last_error=error,
        )
    )
    return ScrapeOutcome(target.name, up, scraped, duration_s, error)


async def scrape_once(
    db: Database,
    *,
    target: ScrapeTargetConfig,
    at: datetime,
    client: httpx.AsyncClient,
    cache: SeriesCache | None = None,
) -> ScrapeOutcome:
    """Fetch ``target`` and store what it said; never raises for the target's faults."""
    started = time.perf_counter()
    body: str | None = None
    error: str | None = None
    try:
        body = await fetch(client, target)
    except (httpx.HTTPError, ExpositionError) as exc:
        error = str(exc) or type(exc).__name__
    duration = time.perf_counter() - started

    def write() -> ScrapeOutcome:
        with db.session() as session, session.begin():
            return record_scrape(
                session,
                target=target,
                at=at,
                body=body,
                error=error,
                duration_s=duration,
                cache=cache,
            )

    return await asyncio.to_thread(write)


class ScrapeService:
    """The worker service that scrapes every ``metrics.scrape`` target on its interval."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        config: Callable[[], OpsbookConfig],
        owner: str,
        cache: SeriesCache | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.owner = owner
        self.cache = cache or SeriesCache()

    def _claim(self, target: str, slot: datetime) -> bool:
        with self.db.session() as session, session.begin():
            return claim_slot(session, target=target, slot_ms=to_ms(slot), owner=self.owner)

    async def __call__(self, stop: asyncio.Event) -> None:
        upcoming: dict[str, datetime] = {}
        running: set[asyncio.Task[ScrapeOutcome]] = set()
        async with httpx.AsyncClient(follow_redirects=False) as client:
            while not stop.is_set():
                targets = {t.name: t for t in self.config().metrics.scrape}
                now = self.clock.now()
                for name in list(upcoming):
                    if name not in targets:
                        del upcoming[name]
                for name, target in targets.items():
                    upcoming.setdefault(name, next_fire(name, target.every, at_or_after=now))
                    slot = upcoming[name]
                    if slot > now:
                        continue
                    upcoming[name] = next_fire(
                        name, target.every, at_or_after=slot + target.every / 2
                    )
                    try:
                        claimed = await asyncio.to_thread(self._claim, name, slot)
                    except Exception:
                        log.exception("metrics.scrape_claim_failed", target=name)
                        continue
                    if claimed:
                        task = asyncio.create_task(
                            scrape_once(
                                self.db, target=target, at=slot, client=client, cache=self.cache
                            )
                        )
                        running.add(task)
                        task.add_done_callback(running.discard)
                wait = min(
                    [(at - self.clock.now()).total_seconds() for at in upcoming.values()]
                    + [_IDLE_S]
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))
            if running:
                await asyncio.gather(*running, return_exceptions=True)
