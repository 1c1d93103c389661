from __future__ import annotations

from collections import Counter
from datetime import timedelta

from checks_fakes import ScriptedCheck

from opsbook.checks.scheduler import Scheduler, next_fire, phase_offset
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

EVERY = timedelta(seconds=60)


def test_a_thousand_checks_with_one_interval_are_spread_across_it() -> None:
    per_second = Counter(
        int(phase_offset(f"check-{i}", EVERY).total_seconds()) for i in range(1000)
    )
    # 1000 over 60 seconds is 16.7 a second; a hash spreads them, no second is crowded.
    assert len(per_second) == 60
    assert max(per_second.values()) <= 30
    assert min(per_second.values()) >= 6


def test_a_check_fires_at_the_same_offset_in_every_process() -> None:
    offset = phase_offset("api-health", EVERY)
    assert timedelta(0) <= offset < EVERY
    assert phase_offset("api-health", EVERY) == offset  # nothing random, nothing per-process
    assert phase_offset("api-health", timedelta(seconds=30)) < timedelta(seconds=30)


def test_due_under_the_fake_clock_fires_each_check_once_per_interval_at_its_offset(
    db: Database, clock: FakeClock
) -> None:
    checks = [ScriptedCheck(f"check-{i}", every=EVERY) for i in range(1000)]
    scheduler = Scheduler(db, clock, checks, leases=False)
    start = clock.now()
    fired: dict[str, list[timedelta]] = {}
    per_tick = []
    for _ in range(120):
        now = clock.advance(timedelta(seconds=1))
        due = scheduler.due(now)
        per_tick.append(len(due))
        for check, fire_time in due:
            assert fire_time <= now
            assert now - fire_time < timedelta(seconds=1)  # not late at this tick size
            fired.setdefault(check.name, []).append(fire_time - start)
    assert all(len(times) == 2 for times in fired.values())
    assert len(fired) == 1000
    assert max(per_tick) <= 30
    for name, (first, second) in fired.items():
        assert second - first == EVERY
        assert next_fire(name, EVERY, at_or_after=start) - start == first

    # A "restarted" scheduler at the same instant agrees on every fire time.
    again = Scheduler(db, FakeClock(start), checks, leases=False)
    refired = {c.name: t - start for c, t in again.due(start + EVERY)}
    assert refired == {name: times[0] for name, times in fired.items()}


def test_after_a_pause_missed_fires_are_skipped_not_burst(db: Database, clock: FakeClock) -> None:
    scheduler = Scheduler(db, clock, [ScriptedCheck("api", every=EVERY)], leases=False)
    assert len(scheduler.due(clock.advance(timedelta(minutes=10)))) == 1
    assert scheduler.due(clock.now()) == []
    assert len(scheduler.due(clock.advance(EVERY))) == 1


def _names_due_within(scheduler: Scheduler, clock: FakeClock, seconds: int) -> Counter[str]:
    fired: Counter[str] = Counter()
    for _ in range(seconds):
        fired.update(check.name for check, _ in scheduler.due(clock.advance(timedelta(seconds=1))))
    return fired


def test_reload_keeps_unchanged_checks_in_their_slot(db: Database, clock: FakeClock) -> None:
    api, web = ScriptedCheck("api"), ScriptedCheck("web")
    scheduler = Scheduler(db, clock, [api, web], leases=False)
    api_slot = next_fire("api", EVERY, at_or_after=clock.now())
    scheduler.reload([api, ScriptedCheck("web", every=timedelta(seconds=30)), ScriptedCheck("db")])
    assert _names_due_within(scheduler, clock, 60) == {"api": 1, "db": 1, "web": 2}
    scheduler.reload([api])
    fired = [(c.name, t) for c, t in scheduler.due(clock.advance(EVERY))]
    assert fired == [("api", api_slot + EVERY)]
