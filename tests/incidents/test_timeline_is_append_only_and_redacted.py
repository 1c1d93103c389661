from __future__ import annotations

import pytest
from incidents_support import open_one

import opsbook.incidents as incidents
from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.logging import register_secret
from opsbook.incidents import IncidentError, add_note, attach_output, timeline
from opsbook.incidents.timeline import MAX_OUTPUT_CHARS, redact_incident_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [redacted]"),
        ("psql postgres://app:hunter2@db/app", "psql postgres://app:[redacted]@db/app"),
        ("DB_PASSWORD=hunter2 ./run", "DB_PASSWORD=[redacted] ./run"),
        ('{"api_key": "abc123"}', '{"api_key": "[redacted]"}'),
        ("token: ghp_abcdefghijklmnopqrstuvwxyz0123", "token: [redacted]"),
        ("key AKIAABCDEFGHIJKLMNOP used", "key [redacted] used"),
        ("error rate 5% for 5 minutes", "error rate 5% for 5 minutes"),
    ],
)
def test_obvious_credentials_are_masked(text: str, expected: str) -> None:
    assert redact_incident_text(text) == expected


def test_notes_and_outputs_are_stored_redacted(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    register_secret("s3cr3t-webhook-value")
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        note = add_note(
            session,
            incident_id=incident.id,
            markdown="Tried **curl** with `Bearer abcdef123456` and s3cr3t-webhook-value",
            by="rita",
            now=clock.now(),
        )
        output = attach_output(
            session,
            incident_id=incident.id,
            text="$ env\nSTRIPE_SECRET=sk_live_abcdefghijklmnop1234\nOK",
            label="env",
            by="rita",
            now=clock.now(),
        )
    with db.session() as session:
        stored = {e.id: e for e in timeline(session, incident_id=incident.id)}
    assert stored[note.id].body == "Tried **curl** with `Bearer [redacted]` and [redacted]"
    assert (stored[note.id].actor, stored[note.id].data["format"]) == ("rita", "markdown")
    assert "sk_live" not in stored[output.id].body
    assert stored[output.id].data["label"] == "env"


def test_a_correction_is_a_new_entry_naming_the_old_one(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    other = open_one(db, clock, config, title="Other")
    with db.session() as session, session.begin():
        wrong = add_note(
            session, incident_id=incident.id, markdown="Cause: DNS", by="a", now=clock.now()
        )
        fix = add_note(
            session,
            incident_id=incident.id,
            markdown="Cause was the cert, not DNS",
            by="a",
            now=clock.now(),
            corrects=wrong.id,
        )
        with pytest.raises(IncidentError, match="same incident"):
            add_note(
                session,
                incident_id=other.id,
                markdown="x",
                by="a",
                now=clock.now(),
                corrects=wrong.id,
            )
    with db.session() as session:
        notes = timeline(session, incident_id=incident.id, kinds={"note"})
    assert [(n.body, n.data["corrects"]) for n in notes] == [
        ("Cause: DNS", None),
        ("Cause was the cert, not DNS", wrong.id),
    ]
    assert fix.id > wrong.id


def test_the_public_api_offers_no_way_to_edit_or_delete_entries() -> None:
    names = {n.lower() for n in incidents.__all__}
    assert not {n for n in names if n.startswith(("update", "delete", "edit", "remove_event"))}


def test_long_output_is_cut_and_says_so(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin():
        entry = attach_output(
            session,
            incident_id=incident.id,
            text="x" * (MAX_OUTPUT_CHARS + 10),
            label="log",
            by="a",
            now=clock.now(),
        )
    assert entry.data["cut"] is True
    assert entry.body.endswith("[... output cut ...]")


def test_an_empty_note_is_refused(db: Database, clock: FakeClock, config: OpsbookConfig) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, pytest.raises(IncidentError, match="empty"):
        add_note(session, incident_id=incident.id, markdown="  ", by="a", now=clock.now())
