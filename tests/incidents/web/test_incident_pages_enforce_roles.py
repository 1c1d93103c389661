"""The incident pages over HTTP: a viewer reads, a responder acts, every form needs CSRF."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_support import log_in, post_form

from opsbook.incidents import get_incident, open_incident, resolve
from opsbook.runtime import Runtime

# Each action form of an incident page, with fields it accepts.
ACTIONS: list[tuple[str, dict[str, str | int]]] = [
    ("ack", {}),
    ("status", {"to": "investigating", "reason": "looking"}),
    ("severity", {"severity": "P0", "reason": "all regions"}),
    ("assign", {"role": "commander", "person": "rita"}),
    ("note", {"markdown": "Pool **exhausted**"}),
    ("output", {"label": "kubectl get pods", "text": "api-1 CrashLoopBackOff"}),
    ("tick", {"position": 1}),
    ("impact", {"components": "API, Checkout", "users_affected": "1,200"}),
    ("resolve", {"reason": "rolled back"}),
]


def _open(runtime: Runtime, title: str = "Checkout is failing", severity: str = "P1") -> int:
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title=title,
            severity=severity,
            by="alerts",
            now=runtime.clock.now(),
        )
        return incident.number


def _status(runtime: Runtime, number: int) -> str:
    with runtime.db.session() as session:
        return get_incident(session, number=number).status


def test_a_responder_works_an_incident_through_the_pages(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = log_in(client, runtime, "rita")
    number = _open(runtime)
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 200
    for button in ("Acknowledge", "Resolve", "Add note", "Assign role", "Change severity"):
        assert f">{button}</button>" in page.text
    for action, fields in ACTIONS:
        response = post_form(client, f"/incidents/{number}/{action}", csrf, **fields)
        assert response.status_code == 303, (action, response.text[:500])
        assert response.headers["location"] == f"/incidents/{number}"
    assert _status(runtime, number) == "resolved"
    page = client.get(f"/incidents/{number}").text
    assert "<strong>exhausted</strong>" in page  # the note, rendered
    assert "about 1,200 users" in page
    assert "commander: <strong>rita</strong>" in page
    assert ">Draft postmortem</button>" in page
    assert post_form(client, f"/incidents/{number}/close", csrf).status_code == 303
    assert _status(runtime, number) == "closed"


def test_a_viewer_reads_every_page_but_sees_no_forms_and_cannot_post(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = log_in(client, runtime, "vic")
    number = _open(runtime)
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 200
    assert "Checkout is failing" in page.text
    assert 'method="post" action="/incidents/' not in page.text
    assert "Declare an incident" not in client.get("/incidents").text
    for path in (
        "/incidents",
        "/postmortems",
        "/action-items",
        "/reports",
        f"/incidents/{number}/live",
    ):
        assert client.get(path).status_code == 200, path
    for action, fields in ACTIONS:
        refused = post_form(client, f"/incidents/{number}/{action}", csrf, **fields)
        assert refused.status_code == 403, action
        assert refused.json()["message"] == "this needs the responder role; you have viewer"
    assert post_form(client, "/incidents", csrf, title="x", severity="P1").status_code == 403
    assert _status(runtime, number) == "triggered"


def test_a_form_without_the_sessions_csrf_token_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    log_in(client, runtime, "rita")
    number = _open(runtime)
    forged = post_form(client, f"/incidents/{number}/ack", "forged-token")
    assert forged.status_code == 403
    assert forged.json()["message"] == "missing or wrong CSRF token"
    assert _status(runtime, number) == "triggered"


def test_anonymous_visitors_are_sent_to_log_in(client: TestClient, runtime: Runtime) -> None:
    number = _open(runtime)
    response = client.get(f"/incidents/{number}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/incidents/{number}"
    assert client.post(f"/incidents/{number}/ack", follow_redirects=False).status_code == 401


def test_a_refused_move_shows_the_page_with_the_reason(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = log_in(client, runtime, "rita")
    number = _open(runtime)
    refused = post_form(client, f"/incidents/{number}/close", csrf)
    assert refused.status_code == 409
    assert 'role="alert">an incident cannot go from triggered to closed' in refused.text
    empty = post_form(client, f"/incidents/{number}/note", csrf, markdown="  ")
    assert (empty.status_code, "a note cannot be empty" in empty.text) == (409, True)
    assert client.get("/incidents/99").status_code == 404


def test_a_responder_declares_an_incident_from_the_list(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = log_in(client, runtime, "rita")
    declared = post_form(
        client, "/incidents", csrf, title="Search is slow", severity="P2", summary="p99 4s"
    )
    assert declared.status_code == 303
    number = int(declared.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/incidents/{number}").text
    assert "#1 Search is slow" in page
    assert "created" in page
    refused = post_form(client, "/incidents", csrf, title="", severity="P2")
    assert refused.status_code == 409


@pytest.mark.parametrize(
    ("markdown", "unwanted"),
    [
        ("<script>alert(1)</script>", "<script>"),
        ("[click](javascript:alert(1))", 'href="javascript:'),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("![tracker](https://evil.example/pixel.gif)", "<img"),
    ],
)
def test_notes_render_as_safe_markdown(
    client: TestClient, runtime: Runtime, markdown: str, unwanted: str
) -> None:
    csrf = log_in(client, runtime, "rita")
    number = _open(runtime)
    post_form(client, f"/incidents/{number}/note", csrf, markdown=markdown)
    timeline = client.get(f"/incidents/{number}/live").text
    assert unwanted not in timeline
    assert re.search(r'class="note"', timeline)


def test_the_list_filters_by_open_severity_and_service(
    client: TestClient, runtime: Runtime
) -> None:
    log_in(client, runtime, "vic")
    _open(runtime, "Checkout 5xx", "P1")
    second = _open(runtime, "Typo on the about page", "P3")
    with runtime.db.session() as session, session.begin():  # the viewer only reads
        resolve(
            session,
            incident_id=get_incident(session, number=second).id,
            by="a",
            now=runtime.clock.now(),
        )
    open_page = client.get("/incidents").text
    assert "Checkout 5xx" in open_page
    assert "Typo on the about page" not in open_page
    every = client.get("/incidents?scope=all").text
    assert "Typo on the about page" in every
    only_p3 = client.get("/incidents?scope=all&severity=P3").text
    assert "Checkout 5xx" not in only_p3
    assert "Typo on the about page" in only_p3
    assert "No incidents match" in client.get("/incidents?scope=all&service=nope").text
