"""Two worker processes on PostgreSQL and a fake clock, one killed mid-escalation.

Every due page reaches the receiver at least once, the receiver sees each idempotency
key accepted (a repeat is recognisable by its key), no step is lost, and no person is
paged twice for the same step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsbook.config import load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job, Notification
from opsbook.incidents import IncidentEvent, open_incident
from opsbook.oncall.models import Escalation

WORKER = Path(__file__).with_name("paging_worker.py")
INCIDENTS = 20
LEVELS = 3
PASSES = 2
DEADLINE_S = 150

CONFIG = """\
service: {{name: shop, timezone: Europe/Berlin}}
settings:
  public_url: http://opsbook.test
  # Longer than two of the test's 30 s clock steps: a live worker's claim can only expire
  # if it stalls for several steps (a loaded machine), not because the clock jumped once.
  jobs: {{lease: 70s}}
  notifications: {{backoff_base: 1s, backoff_cap: 5s}}
people:
  - {{id: maya, name: Maya, email: maya@example.com, contact: [{{method: webhook, channel: hook}}]}}
  - {{id: dev, name: Dev, email: dev@example.com, contact: [{{method: webhook, channel: hook}}]}}
  - {{id: priya, name: Priya, email: priya@example.com,
     contact: [{{method: webhook, channel: hook}}]}}
channels:
  - {{name: hook, kind: webhook, url: "{url}"}}
severities:
  P1: {{escalate_to: []}}
oncall:
  schedules:
    - name: platform
      layers:
        primary: [{{people: [maya, dev], start: 2026-01-05}}]
        secondary: [{{people: [dev, maya], start: 2026-01-05}}]
  policies:
    - name: default
      levels:
        - {{targets: [oncall:primary], escalate_after: 2m}}
        - {{targets: [oncall:secondary], escalate_after: 2m}}
        - {{targets: [person:priya], escalate_after: 2m}}
      repeat: 1
"""


class Receiver:
    """Counts each Idempotency-Key it accepts (a receiver that dedups would drop repeats)."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.accepted[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _start(url: str, config: Path, clock: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, str(config), str(clock), name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _set(clock_file: Path, clock: FakeClock) -> None:
    tmp = clock_file.with_suffix(".tmp")
    tmp.write_text(repr(clock.now().timestamp()))
    tmp.replace(clock_file)


def _exhausted(db: Database) -> int:
    with db.session() as session:
        return len(
            session.scalars(select(Escalation).where(Escalation.status == "exhausted")).all()
        )


def _steps_running(db: Database) -> bool:
    with db.session() as session:
        return bool(
            session.scalars(
                select(Job.id).where(Job.status == "running", Job.kind.like("oncall.%"))
            ).first()
        )


@pytest.mark.slow
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_no_page_is_lost_or_doubled_when_a_worker_dies_mid_escalation(
    db: Database, tmp_path: Path
) -> None:
    with Receiver() as receiver:
        config_path = tmp_path / "opsbook.yaml"
        config_path.write_text(CONFIG.format(url=receiver.url))
        config = load_config_text(config_path.read_text())
        clock = FakeClock()
        clock_file = tmp_path / "clock"
        _set(clock_file, clock)
        with db.session() as session, session.begin():
            for n in range(INCIDENTS):
                open_incident(
                    session,
                    config=config,
                    title=f"Failure {n}",
                    severity="P1",
                    by="test",
                    now=clock.now(),
                )
        url = db.engine.url.render_as_string(hide_password=False)
        procs = {name: _start(url, config_path, clock_file, name) for name in ("w1", "w2")}
        killed = 0
        started = time.monotonic()
        try:
            while _exhausted(db) < INCIDENTS and time.monotonic() - started < DEADLINE_S:
                time.sleep(0.4)
                if killed == 0 and clock.now().minute >= 2:
                    for _ in range(100):  # kill w1 while it holds an on-call job
                        if _steps_running(db):
                            break
                        time.sleep(0.01)
                    procs["w1"].send_signal(signal.SIGKILL)
                    procs["w1"].wait()
                    killed += 1
                    procs["w3"] = _start(url, config_path, clock_file, "w3")
                clock.advance(timedelta(seconds=30))
                _set(clock_file, clock)
            # Let the last deliveries land.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with db.session() as session:
                    pending = session.scalars(
                        select(Notification.id).where(Notification.status != "delivered")
                    ).first()
                if pending is None:
                    break
                clock.advance(timedelta(seconds=10))
                _set(clock_file, clock)
                time.sleep(0.3)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

        assert killed == 1
        assert _exhausted(db) == INCIDENTS  # no step was lost: every escalation ran out
        with db.session() as session:
            notifications = session.scalars(select(Notification)).all()
            paged = [
                e.data
                for e in session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "paged"))
            ]
        expected = INCIDENTS * LEVELS * PASSES
        assert len(paged) == expected
        # No person is paged twice for the same step.
        assert len({(p["step"], p["person"], p["notification_key"]) for p in paged}) == expected
        assert len({p["notification_key"] for p in paged}) == expected
        # Every due page was delivered at least once, under its own idempotency key.
        assert {n.status for n in notifications} == {"delivered"}
        assert {n.idempotency_key for n in notifications} == {p["notification_key"] for p in paged}
        assert set(receiver.accepted) == {p["notification_key"] for p in paged}
        repeats = {key: n for key, n in receiver.accepted.items() if n > 1}
        # A delivery repeated after the kill carries the same key, so a receiver drops it.
        assert sum(repeats.values()) - len(repeats) <= 5 * killed
