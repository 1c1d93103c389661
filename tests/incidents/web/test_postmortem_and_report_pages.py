"""Postmortem, action-items and reports pages over HTTP, for a responder and a viewer."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from web_support import log_in, post_form

from opsbook.core.clock import FakeClock
from opsbook.incidents import acknowledge, open_incident, record_page, resolve
from opsbook.runtime import Runtime


def _resolved(runtime: Runtime) -> int:
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title="Checkout is failing",
            severity="P1",
            by="alerts",
            now=clock.now(),
        )
        record_page(
            session,
            incident_id=incident.id,
            person="rita",
            channel="console",
            level=1,
            step="primary",
            notification_key="page-1",
            at=clock.now(),
        )
    clock.advance(timedelta(minutes=6))
    with runtime.db.session() as session, session.begin():
        acknowledge(session, incident_id=incident.id, by="session:rita", now=clock.now())
    clock.advance(timedelta(minutes=30))
    with runtime.db.session() as session, session.begin():
        resolve(session, incident_id=incident.id, by="session:rita", now=clock.now())
    return incident.number


def _version(page: str, key: str) -> str:
    found = re.search(
        rf'action="/incidents/\d+/postmortem/sections/{key}">\s*'
        r'<input type="hidden" name="csrf_token" value="[^"]+"><input type="hidden" '
        r'name="version" value="(\d+)">',
        page,
    )
    assert found is not None
    return found.group(1)


def test_a_postmortem_is_drafted_written_and_closed_through_the_pages(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = log_in(client, runtime, "rita")
    number = _resolved(runtime)
    base = f"/incidents/{number}/postmortem"
    assert client.get(base).status_code == 404  # none yet, and the page offers to draft one
    assert ">Draft postmortem</button>" in client.get(base).text
    assert post_form(client, base, csrf).headers["location"] == base
    page = client.get(base).text
    assert "1. Incident Summary" in page
    assert "(to write)" in page
    for key, text in (
        ("root_cause", "The pool was **too small**."),
        ("prevention", "Alert on pool use."),
    ):
        saved = post_form(
            client, f"{base}/sections/{key}", csrf, markdown=text, version=_version(page, key)
        )
        assert saved.headers["location"] == f"{base}#section-{key}"
    stale = post_form(
        client,
        f"{base}/sections/root_cause",
        csrf,
        markdown="lost",
        version=_version(page, "root_cause"),
    )
    assert stale.status_code == 409
    added = post_form(
        client, f"{base}/action-items", csrf, title="Pool alert", owner="rita", due_on="2026-01-20"
    )
    assert added.headers["location"] == f"{base}#action-items"
    assert post_form(client, f"{base}/status", csrf, to="published").status_code == 303
    refused = post_form(client, f"{base}/status", csrf, to="closed")
    assert (refused.status_code, "still open: 1. Pool alert" in refused.text) == (409, True)
    assert (
        post_form(client, "/action-items/1", csrf, status="done", back=base).headers["location"]
        == base
    )
    assert post_form(client, f"{base}/status", csrf, to="closed").status_code == 303
    page = client.get(base).text
    assert '<dd id="postmortem-status">closed</dd>' in page
    assert "<strong>too small</strong>" in page
    assert "Edit Root Cause" not in page  # closed: nothing to edit
    exported = client.get(f"/api/v1/incidents/{number}/postmortem/export?format=markdown")
    assert exported.status_code == 200  # the export link works with the web session
    assert "The pool was **too small**." in exported.text
    listing = client.get("/postmortems").text
    assert f'href="/incidents/{number}/postmortem">#{number} Checkout is failing' in listing


def test_a_viewer_reads_the_postmortem_but_finds_no_forms(
    client: TestClient, runtime: Runtime
) -> None:
    number = _resolved(runtime)
    responder = log_in(client, runtime, "rita")
    post_form(client, f"/incidents/{number}/postmortem", responder)
    client.cookies.clear()
    csrf = log_in(client, runtime, "vic")
    page = client.get(f"/incidents/{number}/postmortem")
    assert page.status_code == 200
    assert "Incident Summary" in page.text
    assert 'method="post"' not in page.text.split("</header>", 1)[1]
    for path, fields in (
        ("/sections/root_cause", {"markdown": "x"}),
        ("/status", {"to": "published"}),
        ("/action-items", {"title": "x", "owner": "rita", "due_on": "2026-02-01"}),
    ):
        assert (
            post_form(client, f"/incidents/{number}/postmortem{path}", csrf, **fields).status_code
            == 403
        )


def test_the_action_items_page_lists_across_incidents_and_marks_overdue(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = log_in(client, runtime, "rita")
    first, second = _resolved(runtime), _resolved(runtime)
    for number, due in ((first, "2026-01-04"), (second, "2026-03-01")):
        post_form(client, f"/incidents/{number}/postmortem", csrf)
        post_form(
            client,
            f"/incidents/{number}/postmortem/action-items",
            csrf,
            title=f"Fix for #{number}",
            owner="alice",
            due_on=due,
        )
    runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    page = client.get("/action-items").text
    assert f"Fix for #{first}" in page
    assert f"Fix for #{second}" in page
    overdue = client.get("/action-items?overdue=true").text
    assert f"Fix for #{first}" in overdue
    assert f"Fix for #{second}" not in overdue
    assert 'class="overdue">overdue' in overdue


def test_the_reports_page_shows_tables_and_an_svg_chart(
    client: TestClient, runtime: Runtime
) -> None:
    log_in(client, runtime, "vic")
    _resolved(runtime)
    page = client.get("/reports?start=2026-01-01&end=2026-01-31&by=severity")
    assert page.status_code == 200
    assert '<svg class="chart"' in page.text
    assert "<title>Pages per person</title>" in page.text
    assert "rita: 1 in business hours" in page.text  # Monday 09:00 UTC is business hours
    assert '<th scope="row">P1</th><td>1</td><td>6m</td><td>36m</td>' in page.text
    bad = client.get("/reports?start=soon")
    assert bad.status_code == 422
    assert "neither a date" in bad.text
