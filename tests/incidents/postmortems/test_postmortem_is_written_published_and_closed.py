"""Writing sections, publishing and closing, action items, and exports without secrets."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date

import pytest
from postmortems_support import add_item, draft, work_through

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.logging import register_secret
from opsbook.incidents.postmortems.action_items import add_action_item, change_action_item
from opsbook.incidents.postmortems.export import export
from opsbook.incidents.postmortems.models import Postmortem
from opsbook.incidents.postmortems.service import (
    PostmortemError,
    sections,
    set_postmortem_status,
    write_section,
)
from opsbook.incidents.timeline import events


def _write(db: Database, clock: FakeClock, postmortem: Postmortem, key: str, text: str) -> int:
    with db.session() as session, session.begin():
        section = write_section(
            session, postmortem_id=postmortem.id, key=key, markdown=text, by="bob", now=clock.now()
        )
        return section.version


def _move(db: Database, clock: FakeClock, postmortem: Postmortem, to: str) -> Postmortem:
    with db.session() as session, session.begin():
        return set_postmortem_status(
            session, postmortem_id=postmortem.id, to=to, by="person:alice", now=clock.now()
        )


def test_a_postmortem_goes_from_draft_to_closed(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    postmortem = draft(db, clock, config, work_through(db, clock, config))
    with pytest.raises(PostmortemError, match=r"sections written .*: Prevention$"):
        _move(db, clock, postmortem, "published")
    _write(db, clock, postmortem, "prevention", "Alert on pool saturation at 80%.")
    _move(db, clock, postmortem, "in_review")
    item = add_item(db, clock, config, postmortem)
    published = _move(db, clock, postmortem, "published")
    assert published.published_at == clock.now()
    with pytest.raises(PostmortemError, match="move it back to draft to edit it"):
        _write(db, clock, postmortem, "impact", "more")
    with pytest.raises(PostmortemError, match=r"still open: \d+\. Alert on pool saturation"):
        _move(db, clock, postmortem, "closed")
    with db.session() as session, session.begin():
        change_action_item(
            session, config=config, item_id=item.id, status="done", by="bob", now=clock.now()
        )
    closed = _move(db, clock, postmortem, "closed")
    assert (closed.status, closed.closed_at) == ("closed", clock.now())
    with pytest.raises(PostmortemError, match="none, closed is final"):
        _move(db, clock, postmortem, "draft")
    with db.session() as session:
        moves = [
            (e.data["from"], e.data["to"], e.actor)
            for e in events(
                session, incident_id=postmortem.incident_id, kinds={"postmortem_status_changed"}
            )
        ]
    assert moves == [
        ("draft", "in_review", "person:alice"),
        ("in_review", "published", "person:alice"),
        ("published", "closed", "person:alice"),
    ]


def test_a_stale_section_version_is_refused(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    postmortem = draft(db, clock, config, work_through(db, clock, config))
    version = _write(db, clock, postmortem, "root_cause", "The pool was too small.")
    with db.session() as session, session.begin():
        write_section(
            session,
            postmortem_id=postmortem.id,
            key="root_cause",
            markdown="Pool too small, and no alert on saturation.",
            by="alice",
            now=clock.now(),
            expected_version=version,
        )
    with (
        db.session() as session,
        pytest.raises(PostmortemError, match="changed by someone else since you read version"),
    ):
        write_section(
            session,
            postmortem_id=postmortem.id,
            key="root_cause",
            markdown="lost update",
            by="bob",
            now=clock.now(),
            expected_version=version,
        )
    with db.session() as session:
        [root] = [
            s for s in sections(session, postmortem_id=postmortem.id) if s.key == "root_cause"
        ]
    assert (root.body, root.edited_by) == ("Pool too small, and no alert on saturation.", "alice")
    with db.session() as session, pytest.raises(PostmortemError, match="unknown section 'cause'"):
        write_section(
            session, postmortem_id=postmortem.id, key="cause", markdown="x", by="a", now=clock.now()
        )


def test_action_items_need_a_known_owner_and_move_by_their_table(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    postmortem = draft(db, clock, config, work_through(db, clock, config))
    with db.session() as session, pytest.raises(PostmortemError, match=r"no person 'zed'"):
        add_action_item(
            session,
            config=config,
            postmortem_id=postmortem.id,
            title="x",
            owner="zed",
            due_on=date(2026, 2, 1),
            by="a",
            now=clock.now(),
        )
    item = add_item(db, clock, config, postmortem, owner="alice")
    with db.session() as session, session.begin():
        change_action_item(
            session, config=config, item_id=item.id, status="cancelled", by="a", now=clock.now()
        )
    with (
        db.session() as session,
        pytest.raises(PostmortemError, match="cannot go from cancelled to done"),
    ):
        change_action_item(
            session, config=config, item_id=item.id, status="done", by="a", now=clock.now()
        )


def test_exports_never_contain_secrets(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    late_secret = f"late-known-{uuid.uuid4().hex}"  # the secret registry is process-wide
    postmortem = draft(db, clock, config, work_through(db, clock, config))
    _write(db, clock, postmortem, "resolution", "Ran `psql postgres://app:hunter2@db/app`")
    # A secret that becomes known only after it was pasted is masked on the way out.
    _write(db, clock, postmortem, "lessons_learned", f"We pasted {late_secret} in chat")
    add_item(
        db, clock, config, postmortem, title="Rotate the key (api_key=sk_live_abcdefghijklmnop1234)"
    )
    register_secret(late_secret)
    with db.session() as session:
        stored = "".join(s.body for s in sections(session, postmortem_id=postmortem.id))
        markdown = export(session, postmortem, fmt="markdown", config=config, now=clock.now())
        as_json = export(session, postmortem, fmt="json", config=config, now=clock.now())
    assert "hunter2" not in stored
    assert late_secret in stored  # stored before it was known ...
    for text in (markdown, as_json):
        for secret in ("hunter2", late_secret, "sk_live_abcdefghijklmnop1234"):
            assert secret not in text  # ... but never exported
    assert markdown.startswith("# Postmortem: #1 Checkout is failing\n")
    headings = re.findall(r"^## \d\. (.+)$", markdown, re.MULTILINE)
    assert headings == [
        "Incident Summary",
        "Timeline",
        "Root Cause",
        "Impact",
        "Resolution",
        "Prevention",
        "Lessons Learned",
    ]
    assert "### Action items" in markdown
    assert "| bob | 2026-02-01 | open |" in markdown
    body = json.loads(as_json)
    assert body["incident"]["number"] == 1
    assert next(s["key"] for s in body["postmortem"]["sections"]) == "summary"
    assert body["postmortem"]["action_items"][0]["owner"] == "bob"
