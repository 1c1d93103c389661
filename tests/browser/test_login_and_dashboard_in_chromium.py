"""The login page and the dashboard in a real Chromium, against a live server.

These catch what the TestClient tests cannot: that the browser keeps and sends the
cookies, that the forms post what the server expects, that htmx loads and polls with
the page's CSRF header, and that the pages still work with JavaScript off.
"""

from __future__ import annotations

import json
import re

from browser.sync_api import Browser, Page, expect
from opsbook.core import auth
from opsbook.core.security import SESSION_COOKIE
from opsbook.core.worker import beat
from opsbook.runtime import Runtime

PASSWORD = "correct horse battery"
HTMX_POLL_WAIT_MS = 8_000  # the health section polls every 5 s


def _set_password(runtime: Runtime, person: str, password: str = PASSWORD) -> None:
    with runtime.db.session() as session, session.begin():
        auth.set_password(session, person_id=person, password=password, now=runtime.clock.now())


def _log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("Person id").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _session_cookies(page: Page) -> list[str]:
    return [c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


def _login_url(base: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"{base}/login") + r"(\?.*)?$")


def test_a_visitor_to_the_dashboard_is_sent_to_the_login_page(page: Page, live_server: str) -> None:
    response = page.goto(f"{live_server}/")
    assert response is not None
    assert response.ok
    assert page.url == f"{live_server}/login?next=/"
    redirect = response.request.redirected_from
    assert redirect is not None
    assert redirect.url == f"{live_server}/"
    redirect_response = redirect.response()
    assert redirect_response is not None
    assert redirect_response.status == 303
    expect(page).to_have_title("Log in · Opsbook")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert _session_cookies(page) == []


def test_a_responder_logs_in_through_the_form_and_sees_the_dashboard(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    _set_password(runtime, "rita")
    page.goto(f"{live_server}/")
    _log_in(page, "rita")

    page.wait_for_url(f"{live_server}/")
    expect(page).to_have_title("Dashboard · Opsbook")
    assert len(_session_cookies(page)) == 1
    expect(page.get_by_role("heading", level=1)).to_have_text("Test Service")
    expect(page.get_by_role("banner")).to_contain_text("rita (responder)")
    people = page.locator(".card").filter(has=page.get_by_role("heading", name="People"))
    expect(people.get_by_role("listitem")).to_contain_text(
        ["Alice Admin", "Rita Responder", "Vic Viewer"]
    )
    severities = page.get_by_role("region", name="Loaded configuration").get_by_role("table")
    expect(severities.get_by_role("columnheader")).to_have_text(
        ["Severity", "Meaning", "Respond within", "Escalate after", "Notify"]
    )
    expect(severities.get_by_role("rowheader")).to_have_text(["P0", "P1", "P2", "P3"])
    health = page.get_by_role("region", name="Opsbook health")
    expect(health.get_by_role("heading", name="Opsbook health")).to_be_visible()
    expect(health).to_contain_text("database: ok")
    expect(health).to_contain_text("worker: stale")  # no worker has beaten yet


def test_a_wrong_password_shows_an_error_and_sets_no_session_cookie(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    _set_password(runtime, "rita")
    page.goto(f"{live_server}/login")
    with page.expect_response(f"{live_server}/login") as posted:
        _log_in(page, "rita", "not the password")

    assert posted.value.request.method == "POST"
    assert posted.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("Wrong person id or password.")
    expect(page.get_by_label("Person id")).to_have_value("rita")  # kept for the retry
    expect(page.get_by_label("Password")).to_have_value("")  # never echoed back
    assert _session_cookies(page) == []
    page.goto(f"{live_server}/")
    expect(page).to_have_url(_login_url(live_server))


def test_htmx_refreshes_the_health_section_sending_the_csrf_header(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    _set_password(runtime, "rita")
    page.goto(f"{live_server}/login")
    _log_in(page, "rita")
    page.wait_for_url(f"{live_server}/")
    health = page.get_by_role("region", name="Opsbook health")
    expect(health).to_contain_text("worker: stale")
    hx_headers = page.locator("body").get_attribute("hx-headers")
    assert hx_headers is not None
    csrf_token = json.loads(hx_headers)["X-CSRF-Token"]
    assert csrf_token
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads instead of swapping

    with page.expect_response(
        lambda r: r.url == f"{live_server}/ui/health", timeout=HTMX_POLL_WAIT_MS
    ) as polled:
        now = runtime.clock.now()
        beat(runtime.db, worker_id="browser-test-worker", now=now, started_at=now)

    request = polled.value.request
    assert polled.value.status == 200
    assert request.headers.get("hx-request") == "true"
    assert request.headers.get("x-csrf-token") == csrf_token
    expect(health).to_contain_text("worker: ok")
    expect(health).not_to_contain_text("stale")
    assert page.evaluate("window.loadedOnce") is True
    assert page.url == f"{live_server}/"


def test_logging_out_returns_to_the_login_page_and_ends_the_session(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    _set_password(runtime, "rita")
    page.goto(f"{live_server}/login")
    _log_in(page, "rita")
    page.wait_for_url(f"{live_server}/")
    [old_session] = _session_cookies(page)

    page.get_by_role("button", name="Log out").click()

    page.wait_for_url(f"{live_server}/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert _session_cookies(page) == []
    page.goto(f"{live_server}/")
    assert page.url == f"{live_server}/login?next=/"
    # The server ended the session too: the old cookie, replayed, opens nothing.
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": old_session, "url": live_server}])
    page.goto(f"{live_server}/")
    assert page.url == f"{live_server}/login?next=/"


def test_logging_in_and_out_works_with_javascript_disabled(
    browser: Browser, live_server: str, runtime: Runtime
) -> None:
    _set_password(runtime, "rita")
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/")
        assert page.url == f"{live_server}/login?next=/"
        _log_in(page, "rita")

        page.wait_for_url(f"{live_server}/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Test Service")
        configuration = page.get_by_role("region", name="Loaded configuration")
        expect(configuration.get_by_role("table").get_by_role("rowheader")).to_have_text(
            ["P0", "P1", "P2", "P3"]
        )
        expect(page.get_by_role("region", name="Opsbook health")).to_contain_text("database: ok")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{live_server}/login")
        assert _session_cookies(page) == []
    finally:
        context.close()


def test_the_login_page_has_labelled_inputs_a_main_landmark_and_a_language(
    page: Page, live_server: str
) -> None:
    page.goto(f"{live_server}/login")

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_attribute("id", "main")
    expect(page.get_by_role("link", name="Skip to content")).to_have_attribute("href", "#main")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    username = page.get_by_label("Person id")
    expect(username).to_have_attribute("autocomplete", "username")
    expect(username).to_have_attribute("name", "username")
    password = page.get_by_label("Password")
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "current-password")
    expect(page.get_by_role("button", name="Log in")).to_be_enabled()
