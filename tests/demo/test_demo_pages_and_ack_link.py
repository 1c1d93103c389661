"""The demo pages the on-call on the console and by mail to its sink; the ack link stops it."""

from __future__ import annotations

import asyncio
import io
import re
from contextlib import redirect_stdout
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from opsbook.app import create_app
from opsbook.config import load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.demo.cli import open_demo_page, render_demo_config
from opsbook.demo.mailsink import MailSink, describe_mail
from opsbook.notify.dispatcher import Dispatcher
from opsbook.notify.registry import build_transports
from opsbook.oncall.escalation import escalation_of
from opsbook.runtime import Runtime
from opsbook.settings import Settings


def _round(runtime: Runtime, runner: JobRunner) -> str:
    """Run due jobs, then deliver the outbox as the worker does; return the console output."""
    runner.run_until_idle()
    dispatcher = Dispatcher(
        db=runtime.db,
        clock=runtime.clock,
        transports=build_transports(runtime.config.channels),
        worker_id="demo",
    )
    out = io.StringIO()
    with redirect_stdout(out):
        asyncio.run(dispatcher.deliver_round())
    return out.getvalue()


def test_the_demo_pages_alice_on_the_console_and_by_mail_and_her_ack_link_stops_it(
    tmp_path: Path, db: Database
) -> None:
    sink = MailSink("127.0.0.1")
    sink.start()
    try:
        text = render_demo_config(
            target_url="http://127.0.0.1:8081",
            tls_port=8443,
            app_db=tmp_path / "app.db",
            config_path=tmp_path / "opsbook.yaml",
            database_url=db.url,
            mail_port=sink.port,
            opsbook_url="http://127.0.0.1:8080",
        )
        config = load_config_text(text)
        clock = FakeClock()  # Monday 2026-01-05 09:00 UTC: week 0, alice is primary
        runtime = Runtime.create(
            Settings(database_url=db.url), config=config, clock=clock, db=db, migrate=False
        )
        runner = JobRunner(db=db, registry=runtime.jobs, clock=clock, worker_id="w")
        with db.session() as session, session.begin():
            incident = open_demo_page(session, runtime=runtime)
        printed = _round(runtime, runner)
        assert "incident.paged  → alice" in printed
        assert "Acknowledge: http://127.0.0.1:8080/links/" in printed
        assert len(sink.received) == 1
        mail = sink.received[0]
        assert mail["To"] == "alice@example.com"
        described = describe_mail(mail)
        assert "Demo: the on-call is paged" in described
        ack = re.search(r"Acknowledge: http://127\.0\.0\.1:8080(/links/\S+)", described)
        assert ack is not None, described

        with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
            assert client.get(ack.group(1)).status_code == 200
            assert "Acknowledged" in client.post(ack.group(1)).text
        clock.advance(timedelta(minutes=5))  # level 2 (bob) would have been due at 2m
        printed = _round(runtime, runner)
        assert "→ bob" not in printed
        assert len(sink.received) == 1
        with db.session() as session:
            found = escalation_of(session, incident.id)
            assert found is not None
            assert found.status == "acknowledged"
    finally:
        sink.stop()
