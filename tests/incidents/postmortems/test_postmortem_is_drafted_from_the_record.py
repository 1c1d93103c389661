"""A drafted postmortem: the seeds' sections, facts from the record, prompts for the rest."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from incidents_support import open_one
from postmortems_support import draft, work_through

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.incidents import add_note, assign_role, get_incident, merge, resolve, set_impact
from opsbook.incidents.models import IncidentEvent
from opsbook.incidents.postmortems.service import PostmortemError, draft_postmortem, sections
from opsbook.incidents.postmortems.template import stamp
from opsbook.incidents.timeline import events

STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def _bodies(db: Database, postmortem_id: int) -> dict[str, str]:
    with db.session() as session:
        return {s.key: s.body for s in sections(session, postmortem_id=postmortem_id)}


def test_the_sections_follow_the_seed_template_in_order(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = work_through(db, clock, config)
    postmortem = draft(db, clock, config, incident)
    with db.session() as session:
        found = [
            (s.position, s.key, s.title) for s in sections(session, postmortem_id=postmortem.id)
        ]
    assert found == [
        (1, "summary", "Incident Summary"),
        (2, "timeline", "Timeline"),
        (3, "root_cause", "Root Cause"),
        (4, "impact", "Impact"),
        (5, "resolution", "Resolution"),
        (6, "prevention", "Prevention"),
        (7, "lessons_learned", "Lessons Learned"),
    ]
    assert postmortem.status == "draft"
    assert postmortem.title == "#1 Checkout is failing"


def test_every_timestamp_in_the_postmortem_comes_from_the_record(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    clock.set(datetime(2026, 3, 7, 22, 41, 9, 250_000, tzinfo=UTC))
    incident = work_through(db, clock, config)
    with db.session() as session, session.begin():
        add_note(
            session, incident_id=incident.id, markdown="pool at 100%", by="bob", now=clock.now()
        )
    clock.advance(timedelta(hours=2, seconds=3))
    postmortem = draft(db, clock, config, incident)
    bodies = _bodies(db, postmortem.id)
    with db.session() as session:
        record = get_incident(session, incident_id=incident.id)
        entries: list[IncidentEvent] = events(session, incident_id=incident.id)
    recorded = {
        stamp(at)
        for at in (
            record.triggered_at,
            record.acknowledged_at,
            record.mitigated_at,
            record.resolved_at,
            record.breached_at,
        )
        if at is not None
    } | {stamp(e.at) for e in entries}
    written = [found for body in bodies.values() for found in STAMP.findall(body)]
    assert len(written) > 10
    assert set(written) <= recorded
    # The timeline section names the three times the template asks for, exactly.
    timeline = bodies["timeline"]
    assert record.acknowledged_at is not None
    assert record.resolved_at is not None
    assert f"**Detection time:** {stamp(record.triggered_at)}" in timeline
    assert (
        f"**Response time:** {stamp(record.acknowledged_at)} (3m 17s after detection)" in timeline
    )
    assert f"**Resolution time:** {stamp(record.resolved_at)} (55m 4s after detection)" in timeline
    # ... and every entry worth reading, each at the time it was recorded.
    for entry in entries:
        if entry.kind in ("status_changed", "note"):
            assert f"| {stamp(entry.at)} |" in timeline
    # The drafting moment is not in the record of the incident, so it is nowhere.
    assert stamp(clock.now()) not in written


def test_facts_are_filled_in_and_the_rest_are_the_templates_questions(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config, severity="P1")
    with db.session() as session, session.begin():
        set_impact(
            session,
            incident_id=incident.id,
            components=["API", "Checkout"],
            users_affected=1200,
            by="bob",
            now=clock.now(),
        )
        assign_role(
            session,
            incident_id=incident.id,
            role="commander",
            person="alice",
            by="a",
            now=clock.now(),
        )
    clock.advance(timedelta(minutes=40))  # past the 30-minute P1 target, never acknowledged
    with db.session() as session, session.begin():
        resolve(session, incident_id=incident.id, by="bob", reason="rolled back", now=clock.now())
    bodies = _bodies(db, draft(db, clock, config, incident).id)

    assert "**What happened?** Checkout is failing." in bodies["summary"]
    assert (
        "about 1,200 users (estimate); components API, Checkout; service shop." in bodies["summary"]
    )
    assert "**Who responded?** commander alice." in bodies["summary"]
    assert "(10:00 Europe/Berlin)" in bodies["summary"]  # detected at 09:00 UTC
    assert "**How long did it last?** 40m" in bodies["summary"]
    assert "not acknowledged before it was resolved" in bodies["timeline"]
    assert "- **Severity:** P1, Partial outage" in bodies["impact"]
    assert "_Revenue impact?_" in bodies["impact"]
    assert "by bob: rolled back" in bodies["resolution"]
    assert bodies["root_cause"] == "_What caused the incident?_\n\n_Why did it happen?_"
    assert "_What can we do to prevent this?_" in bodies["prevention"]
    assert "response target (30m) was missed" in bodies["lessons_learned"]
    assert "_What went well?_" in bodies["lessons_learned"]
    with db.session() as session:
        prompt_only = {s.key for s in sections(session, postmortem_id=1) if s.prompt_only}
    assert prompt_only == {"root_cause", "prevention"}


def test_an_identified_cause_is_offered_as_the_root_cause(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = work_through(db, clock, config)
    bodies = _bodies(db, draft(db, clock, config, incident).id)
    assert "by person:bob: connection pool exhausted" in bodies["root_cause"]
    assert (
        "response target (30m) was met: acknowledged 3m 17s after detection"
        in bodies["lessons_learned"]
    )


def test_drafting_is_refused_while_open_for_a_duplicate_and_twice(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    open_incident = open_one(db, clock, config, title="Still burning")
    kept = open_one(db, clock, config, title="The real one")
    duplicate = open_one(db, clock, config, title="A duplicate")
    with db.session() as session, session.begin():
        merge(session, source_id=duplicate.id, into_id=kept.id, by="a", now=clock.now())
    for incident, message in (
        (open_incident, "incident #1 is triggered; a postmortem is drafted once it is resolved"),
        (duplicate, "incident #3 was merged into #2; draft the postmortem there"),
    ):
        with db.session() as session, pytest.raises(PostmortemError, match=re.escape(message)):
            draft_postmortem(
                session, config=config, incident_id=incident.id, by="a", now=clock.now()
            )
    resolved = work_through(db, clock, config)
    draft(db, clock, config, resolved)
    with db.session() as session, pytest.raises(PostmortemError, match="already has a postmortem"):
        draft_postmortem(session, config=config, incident_id=resolved.id, by="a", now=clock.now())
    with db.session() as session:
        drafted = events(session, incident_id=resolved.id, kinds={"postmortem_drafted"})
    assert [(e.actor, e.at) for e in drafted] == [("person:alice", clock.now())]
