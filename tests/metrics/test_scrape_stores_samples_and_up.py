"""Scraping an exposition endpoint on 127.0.0.1 into the store, with ``up`` and labels."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from local_http import Answer, local_server
from opsbook.config import load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.metrics.config import ScrapeTargetConfig
from opsbook.metrics.models import ScrapeTargetState
from opsbook.metrics.query import latest
from opsbook.metrics.scrape import ScrapeOutcome, ScrapeService, claim_slot, scrape_once
from opsbook.metrics.store import to_ms

EXPOSITION = """# TYPE http_requests_total counter
http_requests_total{code="200",job="app-says"} 1027
http_requests_total{code="500"} 3
# TYPE queue_depth gauge
queue_depth 7
broken_value NaN
"""


def target(url: str, **extra: object) -> ScrapeTargetConfig:
    return ScrapeTargetConfig.model_validate({"name": "app", "url": url, **extra})


def scrape(db: Database, config: ScrapeTargetConfig, clock: FakeClock) -> ScrapeOutcome:
    async def go() -> ScrapeOutcome:
        async with httpx.AsyncClient() as client:
            return await scrape_once(db, target=config, at=clock.now(), client=client)

    return asyncio.run(go())


def values(db: Database, name: str, clock: FakeClock) -> list[tuple[dict[str, str], float]]:
    with db.read_session() as session:
        found = latest(session, name=name, matchers=[], at=clock.now())
    return sorted(((s.labels, s.value) for s in found), key=lambda p: sorted(p[0].items()))


def test_a_scrape_stores_every_sample_with_the_target_labels(
    db: Database, clock: FakeClock
) -> None:
    with local_server() as server:
        server.answers["/metrics"] = Answer(body=EXPOSITION)
        config = target(f"{server.url}/metrics", labels={"env": "prod"})
        outcome = scrape(db, config, clock)
        (_path, _query, headers) = server.requests[0]
    assert outcome.up
    assert outcome.samples == 3
    assert "text/plain;version=0.0.4" in headers["Accept"]
    assert headers["X-Prometheus-Scrape-Timeout-Seconds"] == "10"
    instance = server.url.removeprefix("http://")
    assert values(db, "http_requests_total", clock) == [
        (
            {
                "code": "200",
                "env": "prod",
                "exported_job": "app-says",
                "instance": instance,
                "job": "app",
            },
            1027.0,
        ),
        ({"code": "500", "env": "prod", "instance": instance, "job": "app"}, 3.0),
    ]
    own = {"env": "prod", "instance": instance, "job": "app"}
    assert values(db, "up", clock) == [(own, 1.0)]
    assert values(db, "scrape_samples_scraped", clock) == [(own, 3.0)]
    assert values(db, "broken_value", clock) == [], "NaN cannot be stored, it is skipped"


def test_honor_labels_lets_the_scraped_labels_win(db: Database, clock: FakeClock) -> None:
    with local_server() as server:
        server.answers["/metrics"] = Answer(body=EXPOSITION)
        scrape(db, target(f"{server.url}/metrics", honor_labels=True), clock)
    jobs = {labels["job"] for labels, _ in values(db, "http_requests_total", clock)}
    assert jobs == {"app-says", "app"}


def test_a_failed_scrape_is_up_0_with_its_reason(db: Database, clock: FakeClock) -> None:
    with local_server() as server:
        server.answers["/metrics"] = Answer(status=503, body="down for maintenance")
        server.answers["/garbled"] = Answer(body="<html>hello</html>")
        outcome = scrape(db, target(f"{server.url}/metrics"), clock)
        assert not outcome.up
        assert [v for _, v in values(db, "up", clock)] == [0.0]
        clock.advance(timedelta(seconds=30))
        garbled = scrape(db, target(f"{server.url}/garbled"), clock)
    assert "not the Prometheus text format" in (garbled.error or "")
    with db.read_session() as session:
        state = session.get(ScrapeTargetState, "app")
    assert state is not None
    assert state.up is False
    assert "not the Prometheus text format" in (state.last_error or "")
    unreachable = scrape(db, target("http://127.0.0.1:1/metrics", timeout="1s"), clock)
    assert not unreachable.up


def test_one_worker_scrapes_each_slot(db: Database, clock: FakeClock) -> None:
    slot = to_ms(clock.now())
    with db.session() as session, session.begin():
        assert claim_slot(session, target="app", slot_ms=slot, owner="worker-a")
    with db.session() as session, session.begin():
        assert not claim_slot(session, target="app", slot_ms=slot, owner="worker-b")
        assert claim_slot(session, target="app", slot_ms=slot + 30_000, owner="worker-b")


def test_the_scrape_service_scrapes_on_its_interval(db: Database) -> None:
    from opsbook.core.clock import SystemClock

    with local_server() as server:
        server.answers["/metrics"] = Answer(body="queue_depth 3\n")
        config = load_config_text(
            "service: {name: T}\n"
            f"metrics: {{scrape: [{{name: app, url: '{server.url}/metrics', every: 1s,"
            " timeout: 1s}]}\n"
        )
        service = ScrapeService(db=db, clock=SystemClock(), config=lambda: config, owner="w1")

        async def run_for_a_while() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(service(stop))
            for _ in range(100):  # at most 5 s
                await asyncio.sleep(0.05)
                if len(server.requests) >= 2:
                    break
            stop.set()
            await task

        asyncio.run(run_for_a_while())
        assert len(server.requests) >= 2
    with db.read_session() as session:
        state = session.get(ScrapeTargetState, "app")
    assert state is not None
    assert state.up is True
    assert state.owner == "w1"
