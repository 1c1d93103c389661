"""What a reload of opsbook.yaml does to rules: removed ones resolve, changed ones carry on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from rules_support import RecordingSink, RuleLoop, push
from sqlalchemy import func, select

from opsbook.alerts.rules.models import RuleHealth, RuleSeriesState
from opsbook.config import load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

MINUTE = timedelta(minutes=1)
BASE = "service: {name: T}\nrules:\n"
POOL = "  - {name: PoolExhausted, expr: 'in_use >= max_size', labels: {team: db}}\n"
OTHER = "  - {name: Other, expr: 'in_use > 1000', every: 30s}\n"


def exhausted(db: Database) -> Callable[[datetime], None]:
    def feed(now: datetime) -> None:
        push(db, [("in_use", {"pool": "main"}, 20.0), ("max_size", {"pool": "main"}, 20.0)], now)

    return feed


def test_a_removed_rule_resolves_its_firing_alerts(db: Database, clock: FakeClock) -> None:
    sink = RecordingSink(db)
    loop = RuleLoop(db, clock, load_config_text(BASE + POOL + OTHER), sink)
    loop.run_for(2 * MINUTE, exhausted(db))
    assert [a.labels["alertname"] for a in sink.received()] == ["PoolExhausted", "PoolExhausted"]
    loop.config = load_config_text(BASE + OTHER)  # the reload
    loop.run_for(MINUTE, exhausted(db))
    last = sink.received("PoolExhausted")[-1]
    assert last.resolved
    assert last.ends_at == clock.now(), "resolved by the first evaluation after the reload"
    with db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(RuleSeriesState)) == 0
        assert session.get(RuleHealth, "PoolExhausted") is None


def test_changed_labels_end_the_old_alert_and_fire_the_new(db: Database, clock: FakeClock) -> None:
    sink = RecordingSink(db)
    loop = RuleLoop(db, clock, load_config_text(BASE + POOL), sink)
    loop.run_for(MINUTE, exhausted(db))
    loop.config = load_config_text(BASE + POOL.replace("team: db", "team: platform"))
    loop.run_for(MINUTE, exhausted(db))
    first, old, new = sink.received()
    assert first.labels["team"] == "db"
    assert old.labels["team"] == "db"
    assert old.resolved
    assert new.labels["team"] == "platform"
    assert not new.resolved
    assert new.starts_at == first.starts_at, "the same condition, still firing since then"


def test_a_longer_for_applies_to_a_pending_series(db: Database, clock: FakeClock) -> None:
    sink = RecordingSink(db)
    slow = POOL.replace("labels: {team: db}", "for: 3m")
    loop = RuleLoop(db, clock, load_config_text(BASE + slow), sink)
    active_since = clock.now() + MINUTE  # the first evaluation
    loop.run_for(2 * MINUTE, exhausted(db))
    loop.config = load_config_text(BASE + slow.replace("for: 3m", "for: 10m"))
    loop.run_for(5 * MINUTE, exhausted(db))
    assert sink.received() == [], "pending since the start, and 10 minutes are not over"
    loop.run_for(5 * MINUTE, exhausted(db))
    (fired,) = {a.starts_at for a in sink.received()}
    assert fired == active_since + 10 * MINUTE


def test_a_new_interval_is_scheduled_by_the_next_evaluation(db: Database, clock: FakeClock) -> None:
    sink = RecordingSink(db)
    loop = RuleLoop(db, clock, load_config_text(BASE + OTHER), sink)
    loop.config = load_config_text(BASE + OTHER + POOL)  # a reload adds a 1m rule
    loop.run_for(2 * MINUTE, exhausted(db), step=timedelta(seconds=30))
    assert sink.received("PoolExhausted"), "its interval was booked and it ran"
