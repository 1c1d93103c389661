from __future__ import annotations

import asyncio
from datetime import timedelta

from checks_fakes import ScriptedCheck

from opsbook.checks.scheduler import Scheduler
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

LEASE = timedelta(seconds=30)


def _workers(db: Database, clock: FakeClock, *owners: str) -> list[Scheduler]:
    checks = [ScriptedCheck(f"check-{i:02}") for i in range(40)]
    return [Scheduler(db, clock, checks, owner=owner, lease=LEASE) for owner in owners]


def _round(*schedulers: Scheduler) -> None:
    for scheduler in schedulers:
        asyncio.run(scheduler.renew_leases())


def test_two_workers_split_the_checks_and_never_run_one_twice(
    db: Database, clock: FakeClock
) -> None:
    a, b = _workers(db, clock, "a", "b")
    _round(a)
    assert len(a.owned()) == 40  # alone, it runs everything
    _round(b, a, b)  # b announces itself; a gives back its surplus; b takes it
    assert len(a.owned()) == len(b.owned()) == 20
    assert a.owned().isdisjoint(b.owned())
    assert a.owned() | b.owned() == {f"check-{i:02}" for i in range(40)}

    for _ in range(120):
        now = clock.advance(timedelta(seconds=1))
        ran_a = {check.name for check, _ in a.due(now)}
        ran_b = {check.name for check, _ in b.due(now)}
        assert ran_a <= a.owned()
        assert ran_b <= b.owned()
        if clock.now().second % 10 == 0:
            _round(a, b)  # renewals keep the split stable
    assert len(a.owned()) == len(b.owned()) == 20


def test_a_dead_workers_checks_move_to_the_others_within_a_lease(
    db: Database, clock: FakeClock
) -> None:
    a, b, c = _workers(db, clock, "a", "b", "c")
    _round(a, b, c, a, b, c)
    assert sorted(len(s.owned()) for s in (a, b, c)) == [12, 14, 14]  # shares of ceil(40 / 3)
    dead = c.owned()
    # c is killed: it renews nothing from now on.  a and b renew every lease / 3.
    for _ in range(4):
        clock.advance(LEASE / 3 + timedelta(seconds=1))
        _round(a, b)
    assert dead <= a.owned() | b.owned()
    assert len(a.owned()) + len(b.owned()) == 40
    assert a.owned().isdisjoint(b.owned())


def test_a_stopping_worker_hands_its_checks_over_at_once(db: Database, clock: FakeClock) -> None:
    a, b = _workers(db, clock, "a", "b")
    _round(a, b, a, b)
    a._release()  # what run() does on its way out
    _round(b)
    assert len(b.owned()) == 40


def test_workers_claiming_at_the_same_moment_never_share_a_check(
    db: Database, clock: FakeClock
) -> None:
    workers = _workers(db, clock, "a", "b", "c", "d")

    async def rounds() -> None:
        for _ in range(3):
            await asyncio.gather(*(w.renew_leases() for w in workers))

    asyncio.run(rounds())
    owned = [w.owned() for w in workers]
    assert sum(len(o) for o in owned) == len(frozenset().union(*owned))
    assert all(len(o) <= 10 for o in owned)
