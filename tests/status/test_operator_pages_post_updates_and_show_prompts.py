"""The public-update form, the status overview and the dashboard, through a real session."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from status_support import record

from opsbook.core import auth
from opsbook.core.clock import FakeClock
from opsbook.incidents import open_incident, resolve
from opsbook.runtime import Runtime
from opsbook.status import service

PASSWORD = "correct horse battery"


def log_in(client: TestClient, runtime: Runtime, person: str) -> str:
    with runtime.db.session() as session, session.begin():
        auth.set_password(session, person_id=person, password=PASSWORD, now=runtime.clock.now())
    login = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert csrf is not None
    client.post(
        "/login",
        data={"username": person, "password": PASSWORD, "csrf_token": csrf.group(1), "next": "/"},
    )
    page_csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text)
    assert page_csrf is not None
    return page_csrf.group(1)


def incident(runtime: Runtime, clock: FakeClock, severity: str = "P2") -> int:
    with runtime.db.session() as session, session.begin():
        return open_incident(
            session,
            config=runtime.config,
            title="Checkout 5xx",
            severity=severity,
            by="alice",
            now=clock.now(),
            components=["Payments"],
        ).number


def test_the_form_posts_a_public_update_and_comes_back(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    csrf = log_in(client, runtime, "rita")
    number = incident(runtime, clock)
    form = client.get(f"/ui/incidents/{number}/public-update")
    assert form.status_code == 200
    assert 'name="component:payments"' in form.text
    assert '<option value="degraded_performance" selected>' in form.text  # P2's impact
    posted = client.post(
        f"/ui/incidents/{number}/public-update",
        data={
            "csrf_token": csrf,
            "status": "identified",
            "message": "A bad deploy.",
            "component:payments": "partial_outage",
            "component:api": "",
            "notify": "on",
            "name": "Payment problems",
            "next": "/ui/status",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/ui/status"
    summary = client.get("/api/v2/summary.json").json()
    [public] = summary["incidents"]
    assert public["name"] == "Payment problems"
    assert public["incident_updates"][0]["body"] == "A bad deploy."
    assert {c["id"]: c["status"] for c in summary["components"]}["payments"] == "partial_outage"


def test_the_form_refuses_viewers_forged_posts_and_bad_states(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    number = incident(runtime, clock)
    csrf = log_in(client, runtime, "rita")
    forged = client.post(
        f"/ui/incidents/{number}/public-update",
        data={"status": "identified"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    bad = client.post(
        f"/ui/incidents/{number}/public-update", data={"csrf_token": csrf, "status": "postmortem"}
    )
    assert bad.status_code == 409
    assert "opens as investigating" in bad.text
    client.post("/logout", data={"csrf_token": csrf})
    csrf = log_in(client, runtime, "vic")
    viewer = client.post(
        f"/ui/incidents/{number}/public-update", data={"csrf_token": csrf, "status": "identified"}
    )
    assert viewer.status_code == 403
    assert "needs the responder role" in viewer.text
    with runtime.db.read_session() as session:
        assert service.public_incidents(session, published=None) == []


def test_the_dashboard_shows_incidents_breaches_failing_checks_and_prompts(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    log_in(client, runtime, "rita")
    number = incident(runtime, clock, severity="P1")
    with runtime.db.session() as session, session.begin():
        public = service.post_for_incident(
            session,
            config=runtime.config,
            number=number,
            status="investigating",
            by="alice",
            now=clock.now(),
        )
        del public
    record(runtime, "api-health", ok=False, at=clock.now())
    page = client.get("/").text
    assert f"#{number} Checkout 5xx" in page
    assert "api-health" in page
    assert 'class="spark"' in page
    assert 'id="oncall-now"' in page
    assert 'data-slot="oncall-now"' in page
    with runtime.db.session() as session, session.begin():
        from opsbook.incidents import get_incident

        resolve(
            session,
            incident_id=get_incident(session, number=number).id,
            by="alice",
            now=clock.now(),
        )
    live = client.get("/ui/dashboard/live").text
    assert "Resolve publicly" in live
    assert f"Incident #{number} is resolved" in live
