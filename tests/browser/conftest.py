"""Real-browser fixtures: a live Opsbook server and Debian's Chromium driven by Playwright.

``live_server`` serves the app built on the shared ``runtime`` fixture (so every browser
test runs on SQLite and on PostgreSQL) from a uvicorn thread on a free port.  ``browser``
is one headless Chromium per test module; ``page`` is a fresh context (no cookies) per
test.  Without /usr/bin/chromium or the playwright package the tests skip, except in CI
(``CI=true``), where they fail: run ``scripts/ensure-chromium`` to install both.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import uvicorn

from opsbook.app import create_app
from opsbook.runtime import Runtime

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Without the background-networking switches Chromium keeps calling home, and on a
# closed network that means a stream of failing connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 10.0


def _unavailable(reason: str) -> NoReturn:
    reason += " (run scripts/ensure-chromium)"
    if IN_CI:
        pytest.fail(f"browser tests are required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[str]:
    """A real Opsbook HTTP server on 127.0.0.1; yields its base URL (no trailing slash)."""
    # Bind the socket here and hand it to uvicorn: no window for another process to
    # take a port picked as "free".
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime=runtime),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers, so Ctrl-C still stops pytest.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="opsbook-live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=SERVER_START_TIMEOUT)
            sock.close()
            pytest.fail(f"the live Opsbook server did not start on 127.0.0.1:{port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT)
        sock.close()
        assert not thread.is_alive(), "the live Opsbook server did not stop"


# Module scope, not session scope: between its calls Playwright's sync API leaves its
# event loop marked as running on the main thread, so while it lives every later test
# that calls asyncio.run() (or anyio's runner) fails with "cannot be called from a
# running event loop".  Stopping it at the end of each browser module keeps the rest of
# the suite unaffected; a Chromium launch costs well under a second.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, launched once per browser test module."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: .venv/bin/pip install playwright")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context: no cookies or storage from other tests."""
    context = browser.new_context()
    context.set_default_timeout(5_000)
    try:
        yield context.new_page()
    finally:
        context.close()
