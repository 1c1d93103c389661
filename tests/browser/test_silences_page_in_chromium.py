"""The alerts and silences pages in a real Chromium: responders create and expire
silences through the form (with and without JavaScript), viewers only read."""

from __future__ import annotations

from browser.login import log_in
from browser.sync_api import Browser, Page, expect
from opsbook.alerts import service
from opsbook.alerts.contract import AlertInput
from opsbook.runtime import Runtime


def _fire(runtime: Runtime, **labels: str) -> None:
    with runtime.db.session() as session, session.begin():
        service.receive(
            session,
            config=runtime.config,
            alerts=[AlertInput(labels=labels, annotations={"summary": "disk 91%"}, source="t")],
            now=runtime.clock.now(),
        )


def test_a_responder_silences_a_firing_alert_and_expires_the_silence(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    _fire(runtime, alertname="DiskFull", service="db")
    log_in(page, live_server, runtime, "rita", "/alerts")
    row = page.get_by_role("row").filter(has_text="DiskFull")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("disk 91%")
    row.get_by_role("link", name="Silence…").click()

    expect(page.get_by_label("Matchers, one per line")).to_have_value('alertname="DiskFull"')
    page.get_by_label("Duration").fill("1h")
    page.get_by_label("Comment").fill("resizing the volume")
    page.get_by_role("button", name="Create silence").click()
    listed = page.get_by_role("row").filter(has_text="resizing the volume")
    expect(listed).to_contain_text("active")
    expect(listed).to_contain_text("rita")

    page.goto(f"{live_server}/alerts")
    expect(page.get_by_role("row").filter(has_text="DiskFull")).to_contain_text("suppressed")

    page.goto(f"{live_server}/silences")
    page.get_by_role("row").filter(has_text="resizing the volume").get_by_role(
        "button", name="Expire"
    ).click()
    expect(page.get_by_role("row").filter(has_text="resizing the volume")).to_contain_text(
        "expired"
    )


def test_a_bad_matcher_is_shown_back_with_the_form_kept(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    log_in(page, live_server, runtime, "rita", "/silences")
    page.get_by_label("Matchers, one per line").fill("not a matcher")
    page.get_by_label("Comment").fill("oops")
    page.get_by_role("button", name="Create silence").click()
    expect(page.get_by_role("alert")).to_contain_text("expected a matcher")
    expect(page.get_by_label("Comment")).to_have_value("oops")
    expect(page.get_by_text("No silences.")).to_be_visible()


def test_a_viewer_reads_silences_but_cannot_change_them(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    log_in(page, live_server, runtime, "vic", "/silences")
    expect(page.get_by_role("heading", name="Silences", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Create silence")).to_have_count(0)
    response = page.request.post(f"{live_server}/silences", form={"matchers": 'a="1"'})
    assert response.status == 403


def test_silences_work_with_javascript_disabled(
    browser: Browser, live_server: str, runtime: Runtime
) -> None:
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        log_in(page, live_server, runtime, "rita", "/silences")
        page.get_by_label("Matchers, one per line").fill('service=~"db|cache"')
        page.get_by_label("Duration").fill("30m")
        page.get_by_label("Comment").fill("no js")
        page.get_by_role("button", name="Create silence").click()
        page.wait_for_url(f"{live_server}/silences")
        expect(page.get_by_role("row").filter(has_text="no js")).to_contain_text("active")
    finally:
        context.close()
