"""The snapshot: rebuilt when state changes, shared through the database, not per request."""

from __future__ import annotations

from datetime import timedelta

from status_support import fresh, record

from opsbook.core.clock import FakeClock
from opsbook.incidents import open_incident
from opsbook.runtime import Runtime
from opsbook.status import service
from opsbook.status.snapshot import SnapshotKeeper


def _version(keeper: SnapshotKeeper) -> int:
    snapshot = keeper.refresh()
    assert snapshot is not None
    return snapshot.version


def test_nothing_changed_nothing_rebuilt(keeper: SnapshotKeeper, clock: FakeClock) -> None:
    first = fresh(keeper).version
    clock.advance(timedelta(seconds=30))
    assert _version(keeper) == first


def test_each_kind_of_change_makes_a_new_version(
    runtime: Runtime, keeper: SnapshotKeeper, clock: FakeClock
) -> None:
    versions = [fresh(keeper).version]
    with runtime.db.session() as session, session.begin():
        service.set_override(
            session,
            config=runtime.config,
            component="api",
            status="degraded_performance",
            by="alice",
            now=clock.now(),
        )
    versions.append(_version(keeper))
    record(runtime, "api-health", ok=False, at=clock.now())  # a check transition
    versions.append(_version(keeper))
    with runtime.db.session() as session, session.begin():
        open_incident(
            session, config=runtime.config, title="x", severity="P3", by="alice", now=clock.now()
        )
    versions.append(_version(keeper))
    clock.advance(runtime.config.status_page.refresh_every)  # today's uptime moves on
    versions.append(_version(keeper))
    assert versions == sorted(set(versions))
    assert len(versions) == 5


def test_a_maintenance_starting_is_picked_up_on_time(
    runtime: Runtime, keeper: SnapshotKeeper, clock: FakeClock
) -> None:
    with runtime.db.session() as session, session.begin():
        service.schedule_maintenance(
            session,
            config=runtime.config,
            name="Upgrade",
            starts=clock.now() + timedelta(seconds=90),
            ends=clock.now() + timedelta(hours=1),
            components=["api"],
            body="Upgrading.",
            by="alice",
            now=clock.now(),
        )
    before = fresh(keeper)
    clock.advance(timedelta(seconds=91))
    after = keeper.refresh()
    assert after is not None
    assert after.version > before.version
    assert b'"under_maintenance"' in after.documents["/api/v2/components.json"].body


def test_another_process_serves_the_same_snapshot_without_rebuilding(
    runtime: Runtime, keeper: SnapshotKeeper, clock: FakeClock
) -> None:
    built = fresh(keeper)
    other = SnapshotKeeper(
        db=runtime.db, clock=clock, config=lambda: runtime.config, owner="other-process"
    )
    loaded = other.refresh()
    assert loaded is not None
    assert loaded.version == built.version
    assert loaded.documents["/"].etag == built.documents["/"].etag
    with runtime.db.session() as session, session.begin():
        service.set_override(
            session,
            config=runtime.config,
            component="api",
            status="major_outage",
            by="alice",
            now=clock.now(),
        )
    rebuilt = other.refresh()  # the other process notices and builds
    assert rebuilt is not None
    assert rebuilt.version == built.version + 1
    assert _version(keeper) == rebuilt.version  # and this one just loads it


def test_a_burst_of_changes_within_the_debounce_is_one_rebuild(
    runtime: Runtime, clock: FakeClock, tmp_path: object
) -> None:
    keeper = SnapshotKeeper(
        db=runtime.db,
        clock=clock,
        owner="debounced",
        config=lambda: runtime.config.model_copy(
            update={
                "status_page": runtime.config.status_page.model_copy(
                    update={"rebuild_debounce": timedelta(seconds=5)}
                )
            }
        ),
    )
    first = fresh(keeper).version
    for status in ("degraded_performance", "partial_outage", "major_outage"):
        with runtime.db.session() as session, session.begin():
            service.set_override(
                session,
                config=runtime.config,
                component="api",
                status=status,
                by="alice",
                now=clock.now(),
            )
        clock.advance(timedelta(seconds=1))
        assert _version(keeper) == first
    clock.advance(timedelta(seconds=3))
    snapshot = keeper.refresh()
    assert snapshot is not None
    assert snapshot.version == first + 1
    assert b'"major_outage"' in snapshot.documents["/api/v2/components.json"].body
