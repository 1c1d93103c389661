"""A restart keeps pending timers and firing alerts: it neither re-pages nor forgets.

"Restart" is what a new process has: a new job registry, runner and worker id over the
same database. Only the database carries state from one to the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest
from rules_support import RecordingSink, RuleLoop, push
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.contract import AlertInput
from opsbook.alerts.rules.models import RuleSeriesState
from opsbook.config import OpsbookConfig, load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

CONFIG = """
service: {name: Test}
rules:
  - name: MemoryUsageHigh
    expr: 1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > 85%
    for: 5m
"""
MINUTE = timedelta(minutes=1)


@pytest.fixture
def config() -> OpsbookConfig:
    return load_config_text(CONFIG)


def high_memory(db: Database) -> Callable[[datetime], None]:
    def feed(now: datetime) -> None:
        labels = {"instance": "app1:9100"}
        push(
            db,
            [
                ("node_memory_MemAvailable_bytes", labels, 0.2e9),
                ("node_memory_MemTotal_bytes", labels, 4e9),
            ],
            now,
        )

    return feed


def states(db: Database) -> list[RuleSeriesState]:
    with db.read_session() as session:
        return list(session.scalars(select(RuleSeriesState)))


def test_pending_survives_a_restart_and_fires_on_time(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    sink = RecordingSink(db)
    feed = high_memory(db)
    first = RuleLoop(db, clock, config, sink)
    first.run_for(3 * MINUTE, feed)
    (pending,) = states(db)
    assert pending.state == "pending"
    active_since = pending.active_since
    assert active_since == clock.now() - 2 * MINUTE

    second = RuleLoop(db, clock, config, sink)  # the process restarted
    second.run_for(2 * MINUTE, feed)
    assert sink.received() == [], "still pending: 4 minutes since it became active"
    second.run_for(MINUTE, feed)
    (alert,) = sink.received()
    assert alert.at == active_since + 5 * MINUTE, "the restart did not restart the for"
    assert alert.starts_at == alert.at


def test_firing_survives_a_restart_without_a_new_page(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    sink = RecordingSink(db)
    feed = high_memory(db)
    RuleLoop(db, clock, config, sink).run_for(8 * MINUTE, feed)
    fired = sink.received()
    assert fired
    fired_at = fired[0].starts_at

    RuleLoop(db, clock, config, sink).run_for(5 * MINUTE, feed)
    after = sink.received()
    assert {a.starts_at for a in after} == {fired_at}, "only refreshes of the same alert"
    assert all(not a.resolved for a in after)
    # Refreshes come every resend_every (1m), each valid 4 minutes, so it never lapses.
    times = [a.at for a in after]
    assert all(b - a <= MINUTE for a, b in itertools.pairwise(times))


def test_a_pending_series_restarts_its_for_after_a_long_outage(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    sink = RecordingSink(db)
    feed = high_memory(db)
    RuleLoop(db, clock, config, sink).run_for(3 * MINUTE, feed)
    clock.advance(timedelta(hours=2))  # every worker was down, longer than outage_tolerance
    loop = RuleLoop(db, clock, config, sink)
    loop.runner.run_until_idle()  # the slot booked before the outage
    loop.run_for(4 * MINUTE, feed)
    (pending,) = states(db)
    assert pending.state == "pending"
    assert pending.active_since is not None
    assert pending.active_since >= clock.now() - 5 * MINUTE
    assert sink.received() == []


def test_a_failing_sink_rolls_the_state_change_back(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    recording = RecordingSink(db)
    broken = {"on": True}

    def sink(session: Session, *, alerts: Sequence[AlertInput], now: datetime) -> None:
        if broken["on"]:
            raise RuntimeError("the pipeline is down")
        recording(session, alerts=alerts, now=now)

    feed = high_memory(db)
    loop = RuleLoop(db, clock, config, recording, deliver=sink)
    loop.run_for(6 * MINUTE, feed)
    (row,) = states(db)
    assert row.state == "pending", "going firing failed with its alert, so it did not happen"
    broken["on"] = False
    loop.run_for(MINUTE, feed)
    (row,) = states(db)
    assert row.state == "firing"
    assert len(recording.received()) == 1
