"""The postmortem's due date and overdue action items, as durable jobs under the fake clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from incidents_support import jobs_by_key, kinds, open_one, outbox_keys
from postmortems_support import add_item, draft, work_through

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.incidents import get_incident, set_status
from opsbook.incidents.postmortems.action_items import change_action_item
from opsbook.incidents.postmortems.deadline import due_key
from opsbook.incidents.postmortems.models import Postmortem
from opsbook.incidents.postmortems.service import (
    deadline_of,
    find_postmortem,
    set_postmortem_status,
    write_section,
)
from opsbook.incidents.targets import target_job_kind
from opsbook.incidents.timeline import events


def _resolved_at(db: Database, incident_id: int) -> datetime:
    with db.session() as session:
        resolved_at = get_incident(session, incident_id=incident_id).resolved_at
    assert resolved_at is not None
    return resolved_at


def _publish(db: Database, clock: FakeClock, postmortem: Postmortem) -> None:
    with db.session() as session, session.begin():
        write_section(
            session,
            postmortem_id=postmortem.id,
            key="prevention",
            markdown="Alert on saturation.",
            by="a",
            now=clock.now(),
        )
        set_postmortem_status(
            session, postmortem_id=postmortem.id, to="published", by="a", now=clock.now()
        )


def test_an_unpublished_postmortem_is_overdue_48_hours_after_resolution(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = work_through(db, clock, config, severity="P1")
    resolved_at = _resolved_at(db, incident.id)
    key = due_key(incident.id, resolved_at)
    runner = make_runner()
    runner.run_until_idle()  # the clock job runs at once and waits for the due time
    job = jobs_by_key(db)[key]
    assert (job.status, job.run_at) == ("pending", resolved_at + timedelta(hours=48))
    postmortem = draft(db, clock, config, incident)

    clock.set(resolved_at + timedelta(hours=48) - timedelta(seconds=1))
    runner.run_until_idle()
    assert "postmortem_overdue" not in kinds(db, incident.id)
    clock.advance(timedelta(seconds=1))
    runner.run_until_idle()
    with db.session() as session:
        [overdue] = events(session, incident_id=incident.id, kinds={"postmortem_overdue"})
        found = find_postmortem(session, incident_id=incident.id)
        assert found is not None
        mark = deadline_of(
            get_incident(session, incident_id=incident.id), found, config=config, now=clock.now()
        )
    assert (overdue.at, found.overdue_at) == (clock.now(), clock.now())
    assert mark.overdue
    assert mark.due_at == clock.now()
    assert (
        overdue.body
        == f"The postmortem was due at {clock.now():%Y-%m-%d %H:%M:%S} UTC and is not published"
    )
    assert f"incident:{incident.id}:postmortem-overdue-{resolved_at:%Y%m%dT%H%M%S}:incidents" in (
        outbox_keys(db)
    )
    assert jobs_by_key(db)[key].status == "done"
    # Publishing late satisfies it: no longer overdue, though the mark of lateness stays.
    _publish(db, clock, postmortem)
    with db.session() as session:
        found = find_postmortem(session, incident_id=incident.id)
        incident_row = get_incident(session, incident_id=incident.id)
        assert found is not None
        assert not deadline_of(incident_row, found, config=config, now=clock.now()).overdue
        assert found.overdue_at is not None


def test_publishing_in_time_cancels_the_reminder(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = work_through(db, clock, config, severity="P0")
    key = due_key(incident.id, _resolved_at(db, incident.id))
    make_runner().run_until_idle()
    clock.advance(timedelta(hours=20))
    _publish(db, clock, draft(db, clock, config, incident))
    assert jobs_by_key(db)[key].status == "cancelled"
    clock.advance(timedelta(hours=30))
    make_runner().run_until_idle()  # a restarted worker finds nothing to do
    assert "postmortem_overdue" not in kinds(db, incident.id)
    assert not [k for k in outbox_keys(db) if "postmortem-overdue" in k]


def test_a_reopen_cancels_the_clock_and_the_next_resolution_starts_a_new_one(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = work_through(db, clock, config, severity="P1")
    first = due_key(incident.id, _resolved_at(db, incident.id))
    make_runner().run_until_idle()
    clock.advance(timedelta(hours=1))
    for to in ("investigating", "resolved"):
        with db.session() as session, session.begin():
            set_status(
                session, config=config, incident_id=incident.id, to=to, by="a", now=clock.now()
            )
        clock.advance(timedelta(minutes=30))
    second = due_key(incident.id, _resolved_at(db, incident.id))
    assert jobs_by_key(db)[first].status == "cancelled"
    make_runner().run_until_idle()
    assert jobs_by_key(db)[second].run_at == _resolved_at(db, incident.id) + timedelta(hours=48)
    clock.set(_resolved_at(db, incident.id) + timedelta(hours=48))
    make_runner().run_until_idle()
    assert kinds(db, incident.id).count("postmortem_overdue") == 1


def test_a_p2_needs_no_postmortem_and_is_never_overdue(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = work_through(db, clock, config, severity="P2")
    key = due_key(incident.id, _resolved_at(db, incident.id))
    make_runner().run_until_idle()
    assert jobs_by_key(db)[key].status == "done"
    clock.advance(timedelta(days=5))
    make_runner().run_until_idle()
    assert "postmortem_overdue" not in kinds(db, incident.id)


def test_an_overdue_action_item_is_reminded_at_its_owners_midnight_then_weekly(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = work_through(db, clock, config)
    postmortem = draft(db, clock, config, incident)
    item = add_item(db, clock, config, postmortem, owner="bob", due_on=date(2026, 3, 6))  # New York
    # Bob's 7 March begins at 05:00 UTC (EST, before the 8 March DST change).
    overdue_from = datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    first = f"action-item:{item.id}:overdue:0:0"
    assert jobs_by_key(db)[first].run_at == overdue_from
    clock.set(overdue_from - timedelta(seconds=1))
    make_runner().run_until_idle()
    assert "action_item_overdue" not in kinds(db, incident.id)
    clock.set(overdue_from)
    make_runner().run_until_idle()
    keys = outbox_keys(db)
    assert f"incident:{incident.id}:action-item-{item.id}-overdue-0-0:incidents" in keys
    pending = [job for job in jobs_by_key(db).values() if job.kind == target_job_kind("person")]
    assert [job.payload["target"] for job in pending] == ["person:bob"]  # on-call reaches bob
    second = jobs_by_key(db)[f"action-item:{item.id}:overdue:0:1"]
    assert second.run_at == overdue_from + timedelta(days=7)
    # Done before the second reminder: it is cancelled, and nothing more is sent.
    clock.advance(timedelta(days=2))
    with db.session() as session, session.begin():
        change_action_item(
            session, config=config, item_id=item.id, status="done", by="bob", now=clock.now()
        )
    assert jobs_by_key(db)[second.key].status == "cancelled"
    clock.advance(timedelta(days=30))
    make_runner().run_until_idle()
    assert kinds(db, incident.id).count("action_item_overdue") == 1


def test_a_new_due_date_moves_the_reminder(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[[], JobRunner]
) -> None:
    incident = work_through(db, clock, config)
    postmortem = draft(db, clock, config, incident)
    # alice lives in Europe/London: her midnight is 00:00 UTC in winter.
    item = add_item(db, clock, config, postmortem, owner="alice", due_on=date(2026, 1, 10))
    with db.session() as session, session.begin():
        change_action_item(
            session,
            config=config,
            item_id=item.id,
            due_on=date(2026, 1, 20),
            by="a",
            now=clock.now(),
        )
    jobs = jobs_by_key(db)
    assert jobs[f"action-item:{item.id}:overdue:0:0"].status == "cancelled"
    assert jobs[f"action-item:{item.id}:overdue:1:0"].run_at == datetime(2026, 1, 21, tzinfo=UTC)
    clock.set(datetime(2026, 1, 15, tzinfo=UTC))
    make_runner().run_until_idle()
    assert "action_item_overdue" not in kinds(db, incident.id)
    clock.set(datetime(2026, 1, 21, tzinfo=UTC))
    make_runner().run_until_idle()
    assert kinds(db, incident.id).count("action_item_overdue") == 1


def test_an_incident_opened_and_left_open_has_no_postmortem_clock(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P0")
    assert not [key for key in jobs_by_key(db) if "postmortem_due" in key]
    assert incident.resolved_at is None
