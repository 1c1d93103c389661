"""A responder acknowledges an incident and posts a public update from its page; the
public sees it, JS or not.

Real Chromium against a live server: log in, open the incident, acknowledge it, post a
public update from the incident page's panel, then read it on the public status page
(with JavaScript off) and in ``/api/v2/summary.json``.  The dashboard and checks pages
render.  Screenshots go to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from browser.sync_api import Browser, Page, expect
from opsbook.checks.result import CheckResult, Reason
from opsbook.checks.service import record_results
from opsbook.core import auth
from opsbook.incidents import open_incident
from opsbook.runtime import Runtime

PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CONFIG = """\
service:
  name: PawfectMatch
people:
  - {id: rita, name: Rita Responder, email: rita@example.com, role: responder}
channels:
  - {name: console, kind: console}
components:
  - {name: Website, group: Customer facing}
  - {name: Payments, description: Adoption fees, group: Customer facing}
  - {name: Matching, group: Customer facing}
  - {name: API, group: Platform}
  - {name: Database, group: Platform}
checks:
  - {name: web-home, http: {url: "http://127.0.0.1:9/"}, component: Website}
  - {name: payments-api, http: {url: "http://127.0.0.1:9/pay"}, component: Payments}
  - {name: api-health, http: {url: "http://127.0.0.1:9/healthz"}, component: API}
status_page:
  rebuild_debounce: 0s
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def seeded(runtime: Runtime) -> int:
    """A week of check results (one a quarter hour), a failing check, a triggered P1."""
    now = runtime.clock.now()
    results = []
    for check, bad_hour in (("web-home", 30), ("payments-api", 100), ("api-health", None)):
        for step in range(7 * 24 * 4):
            at = now - timedelta(minutes=15 * (7 * 24 * 4 - step))
            ok = bad_hour is None or step // 4 != bad_hour
            results.append(
                CheckResult(
                    check=check,
                    kind="http",
                    started_at=at,
                    ok=ok,
                    status="up" if ok else "down",
                    reason=None if ok else Reason("http_status", "expected 2xx, got 503"),
                    timings={"total": 0.04 + (step % 9) / 200},
                )
            )
    results.append(
        CheckResult(
            check="payments-api",
            kind="http",
            started_at=now,
            ok=False,
            status="down",
            reason=Reason("http_status", "expected 2xx, got 502"),
            timings={"total": 0.9},
        )
    )
    with runtime.db.session() as session, session.begin():
        record_results(session, results=results, now=now)
        auth.set_password(session, person_id="rita", password=PASSWORD, now=now)
        incident = open_incident(
            session,
            config=runtime.config,
            severity="P1",
            by="rita",
            title="Stripe webhook signature check failing",
            now=now,
            components=["Payments"],
        )
        return incident.number


def _log_in(page: Page, base: str, next_path: str) -> None:
    page.goto(f"{base}{next_path}")
    page.get_by_label("Person id").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_public_update_posted_from_the_incident_reaches_the_public(
    browser: Browser, page: Page, live_server: str, seeded: int, request: pytest.FixtureRequest
) -> None:
    first_engine = "sqlite" in request.node.name
    page.set_viewport_size({"width": 1100, "height": 760})
    _log_in(page, live_server, f"/incidents/{seeded}")
    status = page.locator("#incident-status")
    expect(status).to_have_text("triggered")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(status).to_have_text("acknowledged")
    form = page.get_by_role("region", name="Public update")
    expect(form).to_contain_text("Nothing is on the public status page for this incident yet")
    form.get_by_label("Identified").check()
    form.get_by_label("Public title").fill("Payments are failing for some customers")
    form.get_by_label("Message customers read").fill(
        "Card payments fail for some adopters; we found the cause and are fixing it."
    )
    form.get_by_label("Payments").select_option("partial_outage")
    if first_engine:
        _shot(page, "public-update-form")
    form.get_by_role("button", name="Post public update").click()
    page.wait_for_url(f"{live_server}/incidents/{seeded}")
    expect(form).to_contain_text("identified")
    expect(status).to_have_text("acknowledged")
    if first_engine:
        _shot(page, "incident")

    public = browser.new_context(java_script_enabled=False)
    try:
        reader = public.new_page()
        reader.set_viewport_size({"width": 1000, "height": 900})
        reader.goto(f"{live_server}/status")
        expect(reader.get_by_role("status")).to_have_text("Partial System Outage")
        active = reader.get_by_role("region", name="Active incidents")
        expect(active).to_contain_text("Payments are failing for some customers")
        expect(active).to_contain_text("Identified \u2013 Card payments fail for some adopters")
        payments = reader.locator("#c-payments")
        expect(payments).to_contain_text("Partial outage")
        expect(
            reader.get_by_role("img", name="Payments: 99.26% uptime over 90 days")
        ).to_be_visible()
        assert reader.locator("script").count() == 0
        if first_engine:
            _shot(reader, "status-page")
    finally:
        public.close()

    summary = page.request.get(f"{live_server}/api/v2/summary.json").json()
    [incident] = summary["incidents"]
    assert incident["name"] == "Payments are failing for some customers"
    assert incident["status"] == "identified"
    assert incident["incident_updates"][0]["body"].startswith("Card payments fail")
    statuses = {c["name"]: c["status"] for c in summary["components"]}
    assert statuses["Payments"] == "partial_outage"
    assert summary["status"]["indicator"] == "major"

    page.goto(f"{live_server}/")
    live = page.locator("#dashboard-live")
    expect(live.get_by_role("region", name="Open incidents")).to_contain_text(
        f"#{seeded} Stripe webhook signature check failing"
    )
    failing = live.get_by_role("region", name="Failing checks")
    expect(failing).to_contain_text("payments-api")
    expect(failing.get_by_role("img", name="payments-api: latency", exact=False)).to_be_visible()
    expect(page.get_by_role("region", name="Who is on call now")).to_be_visible()
    if first_engine:
        _shot(page, "dashboard")

    page.goto(f"{live_server}/checks/payments-api?hours=168")
    expect(page.get_by_role("heading", level=1)).to_have_text("payments-api")
    expect(
        page.get_by_role("img", name="payments-api: latency p50 and p95 (ms)", exact=False)
    ).to_be_visible()
    expect(page.get_by_role("region", name="Latest results")).to_contain_text(
        "expected 2xx, got 502"
    )
    if first_engine:
        _shot(page, "check")
