"""Status-page fixtures: a config with components, checks and an email channel for mail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from notify.servers import SmtpRecorder, WebhookReceiver, smtp_server
from opsbook.core.clock import FakeClock
from opsbook.runtime import Runtime
from opsbook.status.snapshot import SnapshotKeeper

STATUS_CONFIG = """\
service:
  name: PawfectMatch
people:
  - {id: alice, name: Alice Admin, email: alice@example.com, role: admin}
  - {id: rita, name: Rita Responder, email: rita@example.com, role: responder}
  - {id: vic, name: Vic Viewer, email: vic@example.com, role: viewer}
channels:
  - {name: console, kind: console}
  - name: subscribers-mail
    kind: email
    to: [ops@pawfectmatch.com]
    from: PawfectMatch Status <status@pawfectmatch.com>
    smtp: {host: 127.0.0.1, port: SMTP_PORT, security: none}
components:
  - {name: Website, group: Customer facing}
  - {name: Payments, description: Adoption fees, group: Customer facing}
  - {name: API}
checks:
  - {name: web-home, http: {url: "http://127.0.0.1:9/"}, component: Website}
  - {name: web-login, http: {url: "http://127.0.0.1:9/login"}, component: Website}
  - {name: api-health, http: {url: "http://127.0.0.1:9/healthz"}, component: API}
status_page:
  name: PawfectMatch
  subscribers: {email_channel: subscribers-mail}
  rebuild_debounce: 0s
settings:
  public_url: https://ops.pawfectmatch.test
"""


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpRecorder, Controller]]:
    """A real SMTP server on 127.0.0.1 that keeps what it is sent."""
    recorder = SmtpRecorder()
    controller = smtp_server(recorder)
    yield recorder, controller
    controller.stop()


@pytest.fixture
def status_config_text(smtp: tuple[SmtpRecorder, Controller]) -> str:
    return STATUS_CONFIG.replace("SMTP_PORT", str(smtp[1].port))


@pytest.fixture
def config_file(tmp_path: Path, status_config_text: str) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(status_config_text)
    return path


@pytest.fixture
def keeper(runtime: Runtime) -> SnapshotKeeper:
    return SnapshotKeeper(
        db=runtime.db, clock=runtime.clock, config=lambda: runtime.config, owner="test"
    )


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[WebhookReceiver]:
    """A webhook receiver; a test sets ``receiver.secret`` to the subscriber's."""
    found = WebhookReceiver(secret=None, clock=clock)
    found.start()
    yield found
    found.stop()
