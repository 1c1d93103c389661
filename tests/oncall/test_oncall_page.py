"""The on-call page: current shifts and the coming weeks, overrides made and removed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from opsbook.core import auth
from opsbook.runtime import Runtime


def _login(client: TestClient, runtime: Runtime, person: str) -> str:
    with runtime.db.session() as session, session.begin():
        auth.set_password(
            session, person_id=person, password="correct horse", now=runtime.clock.now()
        )
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post(
        "/login",
        data={"username": person, "password": "correct horse", "csrf_token": csrf.group(1)},
    )
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/oncall").text)
    assert found is not None
    return found.group(1)


def test_the_page_needs_a_login_and_shows_now_the_coming_weeks_and_policies(
    client: TestClient, runtime: Runtime
) -> None:
    anonymous = client.get("/oncall", follow_redirects=False)
    assert anonymous.status_code == 303
    _login(client, runtime, "maya")
    page = client.get("/oncall").text
    assert '<a href="/oncall" aria-current="page">On call</a>' in page
    assert "Maya Chen" in page
    assert "Lucia Romero" in page
    assert "the next two weeks" in page
    assert "100.0% covered" in page
    assert "Escalation policies" in page
    assert "oncall:primary" in page
    assert "Add override" in page  # maya is a responder


def test_a_responder_adds_and_removes_an_override_with_the_csrf_token(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = _login(client, runtime, "maya")
    form = {
        "schedule": "platform",
        "person": "priya",
        "layer": "primary",
        "start": "2026-01-05T12:00",
        "end": "2026-01-05T20:00",
        "reason": "swap",
    }
    assert client.post("/oncall/overrides", data=form).status_code == 403  # no token
    added = client.post(
        "/oncall/overrides", data={**form, "csrf_token": csrf}, follow_redirects=False
    )
    assert added.status_code == 303
    page = client.get("/oncall").text
    assert "Priya Raman" in page
    assert "override:1" in page
    refused = client.post(
        "/oncall/overrides", data={**form, "person": "nobody", "csrf_token": csrf}
    )
    assert refused.status_code == 422
    assert "no person &#39;nobody&#39;" in refused.text
    removed = client.post(
        "/oncall/overrides/1/remove", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert "override:1" not in client.get("/oncall").text


def test_the_dashboard_says_who_is_on_call_now(client: TestClient, runtime: Runtime) -> None:
    _login(client, runtime, "maya")
    from opsbook.oncall import service

    with runtime.db.read_session() as session:
        shifts = service.who_is_on_call(session, config=runtime.config, at=runtime.clock.now())
    names = {p.id: p.name for p in runtime.config.people}
    dashboard = client.get("/").text
    section = dashboard[dashboard.index('id="oncall-now"') :]
    section = section[: section.index("</section>")]
    assert "not set up yet" not in section
    for shift in shifts:
        assert shift.person is not None
        assert f"<td>{shift.schedule}</td><td>{shift.layer}</td><td>{names[shift.person]}</td>" in (
            section
        )
