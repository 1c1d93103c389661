"""Done means, in a real browser: the demo's outage worked from trigger to a closed postmortem.

The demo's sample app is broken for real; a responder declares the incident in the web
UI, acknowledges it, writes a note, ticks the checklist, resolves it once the app is
back, drafts the postmortem, writes its sections, adds an action item, finishes it and
closes the postmortem and the incident, all by clicking.  Other tests check that htmx
brings in changes made elsewhere, and that a viewer gets no buttons.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser.login import log_in
from browser.sync_api import Browser, Page, expect
from opsbook.demo.target import TargetServer
from opsbook.incidents import add_note, get_incident, open_incident
from opsbook.runtime import Runtime
from support import demo_target, set_demo_mode

HTMX_POLL_WAIT_MS = 8_000  # the live part of an incident page polls every 5 s


@pytest.fixture
def target() -> Iterator[TargetServer]:
    with demo_target() as server:
        yield server


def _healthz(target: TargetServer) -> int:
    try:
        with urllib.request.urlopen(f"{target.url}/healthz.json", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_demo_outage_is_worked_to_a_closed_postmortem_in_the_browser(
    page: Page, live_server: str, runtime: Runtime, target: TargetServer
) -> None:
    set_demo_mode(target, "down")
    assert _healthz(target) == 503
    log_in(page, live_server, runtime, "rita", "/incidents")
    expect(page.get_by_role("heading", level=1)).to_have_text("Incidents")

    # Trigger: declare the incident.
    page.get_by_label("Title").fill("Website is down")
    page.get_by_label("Severity").last.select_option("P1")
    page.get_by_label("What is known so far").fill(f"`{target.url}/healthz.json` answers **503**")
    page.get_by_role("button", name="Declare incident").click()
    page.wait_for_url(re.compile(rf"{re.escape(live_server)}/incidents/\d+$"))
    number = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"#{number} Website is down")
    status = page.locator("#incident-status")
    expect(status).to_have_text("triggered")

    # Respond: acknowledge, note, paste the check, tick the checklist.
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(status).to_have_text("acknowledged")
    page.get_by_label("Note (markdown)").fill("The app's pool is **exhausted**; restarting it")
    page.get_by_role("button", name="Add note").click()
    note = page.locator(".timeline .kind-note").last
    expect(note.locator(".note strong")).to_have_text("exhausted")
    page.get_by_text("Attach command or check output").click()
    page.get_by_label("What it is").fill("curl healthz.json")
    page.get_by_label("Output (kept verbatim)").fill('HTTP/1.1 503\n{"status": "down"}')
    page.get_by_role("button", name="Attach output").click()
    expect(page.locator(".timeline .kind-output_attached pre")).to_contain_text("HTTP/1.1 503")
    page.get_by_role("button", name="Tick Acknowledge alert").click()
    expect(page.get_by_role("region", name="Checklist")).to_contain_text("✓ Acknowledge alert")

    # Resolve once the app answers again.
    set_demo_mode(target, "ok")
    assert _healthz(target) == 200
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(status).to_have_text("resolved")

    # The postmortem, drafted from the record.
    page.get_by_role("button", name="Draft postmortem").click()
    page.wait_for_url(f"{live_server}/incidents/{number}/postmortem")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Postmortem: #{number} Website is down"
    )
    timeline = page.locator("#section-timeline")
    expect(timeline).to_contain_text("Detection time:")
    expect(timeline).to_contain_text("Response time:")
    for key, title, text in (
        ("root_cause", "Root Cause", "The pool was **too small** for the traffic."),
        ("prevention", "Prevention", "Alert when the pool is 80% used."),
        ("lessons_learned", "Lessons Learned", "The check caught it within a minute."),
    ):
        section = page.locator(f"#section-{key}")
        section.get_by_text(f"Edit {title}").click()
        section.get_by_label(f"{title} (markdown)").fill(text)
        section.get_by_role("button", name=f"Save {title}").click()
        page.wait_for_url(f"{live_server}/incidents/{number}/postmortem#section-{key}")
    expect(page.locator("#section-root_cause strong")).to_have_text("too small")
    page.get_by_label("Action", exact=True).fill("Alert on pool saturation")
    page.get_by_label("Owner").select_option("rita")
    page.get_by_label("Due").fill("2026-01-20")
    page.get_by_role("button", name="Add action item").click()
    expect(page.locator("#action-item-1")).to_contain_text("Alert on pool saturation")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#postmortem-status")).to_have_text("published")
    page.get_by_role("button", name="Close postmortem").click()
    expect(page.get_by_role("alert")).to_contain_text("still open: 1. Alert on pool saturation")
    page.get_by_role("button", name="Mark action item 1 done").click()
    expect(page.locator("#action-item-1")).to_contain_text("done")
    page.get_by_role("button", name="Close postmortem").click()
    expect(page.locator("#postmortem-status")).to_have_text("closed")
    with page.expect_download() as download:
        page.get_by_role("link", name="Markdown").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "The pool was **too small** for the traffic." in exported

    # And the incident itself is closed.
    page.get_by_role("link", name=f"#{number} Website is down").click()
    page.get_by_role("button", name="Close incident").click()
    expect(status).to_have_text("closed")
    with runtime.db.session() as session:
        assert get_incident(session, number=number).status == "closed"


def test_the_incident_page_shows_changes_made_elsewhere_without_a_reload(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title="Search is slow",
            severity="P2",
            by="alerts",
            now=runtime.clock.now(),
        )
    log_in(page, live_server, runtime, "rita", f"/incidents/{incident.number}")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads instead of swapping
    with (
        page.expect_response(
            lambda r: r.url.endswith(f"/incidents/{incident.number}/live"),
            timeout=HTMX_POLL_WAIT_MS,
        ) as polled,
        runtime.db.session() as session,
        session.begin(),
    ):
        add_note(
            session,
            incident_id=incident.id,
            markdown="Seen from *elsewhere*",
            by="person:alice",
            now=runtime.clock.now(),
        )
    assert polled.value.request.headers.get("hx-request") == "true"
    expect(page.locator(".timeline .kind-note .note em")).to_have_text("elsewhere")
    assert page.evaluate("window.loadedOnce") is True


def test_a_viewer_reads_the_incident_but_gets_no_buttons(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title="Checkout 5xx",
            severity="P1",
            by="alerts",
            now=runtime.clock.now(),
        )
    log_in(page, live_server, runtime, "vic", f"/incidents/{incident.number}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"#{incident.number} Checkout 5xx")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("created")
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Add note")).to_have_count(0)


def test_an_incident_is_acknowledged_with_javascript_disabled(
    browser: Browser, live_server: str, runtime: Runtime
) -> None:
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title="API 5xx",
            severity="P1",
            by="alerts",
            now=runtime.clock.now(),
        )
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        log_in(page, live_server, runtime, "rita", f"/incidents/{incident.number}")
        page.get_by_role("button", name="Acknowledge", exact=True).click()
        expect(page.locator("#incident-status")).to_have_text("acknowledged")
        page.get_by_label("Note (markdown)").fill("no **JS** needed")
        page.get_by_role("button", name="Add note").click()
        expect(page.locator(".timeline .kind-note .note strong")).to_have_text("JS")
    finally:
        context.close()
