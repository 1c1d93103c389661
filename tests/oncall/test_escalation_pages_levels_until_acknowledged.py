"""An incident pages its escalation policy level by level until someone acknowledges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from oncall_support import escalation_of, jobs_of, open_one, outbox, paged, who_was_paged

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.incidents import acknowledge, get_incident, resolve, timeline
from opsbook.oncall.escalation import STEP_KIND


def test_levels_page_in_turn_with_personal_rules_and_the_documented_timeline_entry(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    opened_at = clock.now()
    runner.run_until_idle()
    first = paged(db, incident.id)
    assert first == [
        {
            "person": "maya",
            "channel": "mail",
            "level": 1,
            "step": "e1.r0.p0.l1",
            "notification_key": f"page:{incident.id}:e1.r0.p0.l1:maya:0-email",
            "at": opened_at,
        }
    ]
    mail = {n.idempotency_key: n for n in outbox(db)}[first[0]["notification_key"]]
    assert (mail.channel, mail.target) == ("mail", "maya@example.com")
    labels = [link["label"] for link in mail.message["links"]]
    assert labels == ["Acknowledge", "Resolve", "Escalate now", "Open incident"]
    assert all(
        link["url"].startswith("http://opsbook.test/links/") for link in mail.message["links"]
    )

    clock.advance(timedelta(minutes=2))  # maya's rule: sms after 2m if not acknowledged
    runner.run_until_idle()
    assert who_was_paged(db, incident.id)[-1] == ("maya", "e1.r0.p0.l1")
    assert paged(db, incident.id)[-1]["channel"] == "sms"

    clock.advance(timedelta(minutes=3))  # level 1 waited 5m: level 2 is the secondary
    runner.run_until_idle()
    assert who_was_paged(db, incident.id)[-1] == ("lucia", "e1.r0.p0.l2")
    assert paged(db, incident.id)[-1]["at"] == opened_at + timedelta(minutes=5)


def test_an_acknowledgement_cancels_the_pending_step_in_its_own_transaction(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    runner.run_until_idle()
    clock.advance(timedelta(minutes=1))
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="person:maya", now=clock.now())
    steps = {job.key: job.status for job in jobs_of(db, STEP_KIND)}
    assert sorted(steps.values()) == ["cancelled", "done"]
    contacts = jobs_of(db, "oncall.contact")
    assert [job.status for job in contacts] == ["cancelled"]  # maya's sms never goes out
    runner.run_until_idle()
    assert escalation_of(db, incident.id).status == "acknowledged"
    clock.advance(timedelta(minutes=20))
    runner.run_until_idle()
    assert who_was_paged(db, incident.id) == [("maya", "e1.r0.p0.l1")]


def test_a_resolution_cancels_everything_pending(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    runner.run_until_idle()
    with db.session() as session, session.begin():
        resolve(session, incident_id=incident.id, by="alert", now=clock.now())
    clock.advance(timedelta(hours=3))
    runner.run_until_idle()
    assert who_was_paged(db, incident.id) == [("maya", "e1.r0.p0.l1")]
    assert escalation_of(db, incident.id).status == "active"  # steps cancelled, row untouched
    assert {job.status for job in jobs_of(db, STEP_KIND)} == {"done", "cancelled"}


def test_repeat_runs_the_levels_again_then_the_escalation_is_exhausted(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    for _ in range(13):
        runner.run_until_idle()
        clock.advance(timedelta(minutes=5))
    steps = [step for person, step in who_was_paged(db, incident.id) if step.startswith("e1.")]
    assert list(dict.fromkeys(steps)) == [
        "e1.r0.p0.l1",
        "e1.r0.p0.l2",
        "e1.r0.p0.l3",
        "e1.r0.p1.l1",
        "e1.r0.p1.l2",
        "e1.r0.p1.l3",
    ]
    assert escalation_of(db, incident.id).status == "exhausted"
    # The severity policy's own targets page once besides: P1's breach after 30m and its
    # escalation after 1h both go to oncall:secondary.
    others = [pair for pair in who_was_paged(db, incident.id) if not pair[1].startswith("e1.")]
    assert others == [
        ("lucia", "breached:oncall:secondary"),
        ("lucia", "escalated-0-1:oncall:secondary"),
    ]


def test_the_acknowledgement_times_out_and_pages_again(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    runner.run_until_idle()
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="person:maya", now=clock.now())
    acknowledged_at = clock.now()
    runner.run_until_idle()
    clock.advance(timedelta(minutes=30))
    runner.run_until_idle()
    escalation = escalation_of(db, incident.id)
    assert (escalation.status, escalation.run) == ("active", 1)
    assert who_was_paged(db, incident.id)[-1] == ("maya", "e1.r1.p0.l1")
    texts = [e.body for e in _timeline(db, incident.id) if e.kind == "paged"]
    assert len(texts) == 2
    # As at PagerDuty, the incident itself is triggered again, so a plain acknowledgement
    # (the incident page's button, the API, the CLI) answers the new pages.
    with db.session() as session:
        again = get_incident(session, incident_id=incident.id)
        assert again.status == "triggered"
        assert again.acknowledged_at == acknowledged_at  # MTTA keeps the first response
    clock.advance(timedelta(minutes=1))
    with db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="person:maya", now=clock.now())
    runner.run_until_idle()
    assert escalation_of(db, incident.id).status == "acknowledged"
    clock.advance(timedelta(minutes=10))  # level 2 would have been paged by now
    runner.run_until_idle()
    assert [who for who, _ in who_was_paged(db, incident.id)] == ["maya", "maya"]
    moves = [
        (e.data["from"], e.data["to"])
        for e in _timeline(db, incident.id)
        if e.kind == "status_changed"
    ]
    assert moves == [
        ("triggered", "acknowledged"),
        ("acknowledged", "triggered"),
        ("triggered", "acknowledged"),
    ]
    # And the re-trigger timer is armed again from the second acknowledgement.
    clock.advance(timedelta(minutes=20))
    runner.run_until_idle()
    assert who_was_paged(db, incident.id)[-1] == ("maya", "e1.r2.p0.l1")


def _timeline(db: Database, incident_id: int) -> list:  # type: ignore[type-arg]
    with db.session() as session:
        return timeline(session, incident_id=incident_id)


def test_a_step_that_runs_twice_pages_no_one_twice(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    runner = make_runner()
    incident = open_one(db, clock, config)
    runner.run_until_idle()
    before = len(outbox(db))
    # Two workers that both think they own the first step (a lease expired mid-run):
    from opsbook.oncall import escalation as escalations

    step = jobs_of(db, STEP_KIND)[0]
    with db.session() as session, session.begin():
        escalations.schedule_step(
            session,
            escalations.escalation_of(session, incident.id, lock=True),
            pass_number=0,
            level=1,
            due=clock.now(),
            now=clock.now(),
            repair=9,
        )
    runner.run_until_idle()
    keys = [n.idempotency_key for n in outbox(db)]
    assert len(keys) == len(set(keys))
    assert [p for p, s in who_was_paged(db, incident.id)].count("maya") == 1
    assert len(outbox(db)) == before
    assert step.status == "done"
