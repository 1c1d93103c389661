"""Paging figures: trigger-to-webhook latency, and escalation step lateness under load.

1. ``latency``: 200 P1 incidents opened one after another (every 100 ms); each pages the
   on-call through a webhook to a receiver on 127.0.0.1, which stamps arrival.  Latency is
   arrival minus the incident's ``triggered_at``: the target-delivery job, the first
   escalation step, the outbox row and the HTTP POST, through a real worker (the one
   ``opsbook serve`` runs): woken when work is committed, the 1 s poll as safety net.
2. ``lateness``: 1,000 incidents opened at once, each escalating through three 1-minute
   levels; lateness of each step is its job's finish time minus its due time.

Logging is configured as ``opsbook serve`` does with ``OPSBOOK_LOG_LEVEL=warning``.
``--workers 2`` (PostgreSQL only) adds ``opsbook worker`` processes beside the
benchmark's own worker; they share jobs and deliveries through ``SKIP LOCKED``.

Bounded (a fixed number of incidents, a deadline per part), loopback only, everything it
starts it stops.

    .venv/bin/python bench/oncall_paging.py                  # SQLite (a temporary file)
    .venv/bin/python bench/oncall_paging.py --database postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/oncall_paging.py --database postgresql://... --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from opsbook.config import load_config_text
from opsbook.core.db import Database, make_engine
from opsbook.core.logging import configure_logging
from opsbook.core.migrate import upgrade
from opsbook.core.models import Job
from opsbook.incidents import Incident, open_incident
from opsbook.oncall.escalation import STEP_KIND
from opsbook.runtime import Runtime
from opsbook.settings import Settings

CONFIG = """\
service: {{name: bench, timezone: Europe/Berlin}}
settings: {{public_url: "http://opsbook.bench"}}
people:
  - {{id: ann, name: Ann, email: ann@example.com, contact: [{{method: webhook, channel: hook}}]}}
  - {{id: bob, name: Bob, email: bob@example.com, contact: [{{method: webhook, channel: hook}}]}}
channels:
  - {{name: hook, kind: webhook, url: "{url}"}}
severities:
  P1: {{notify: [oncall:primary], escalate_to: []}}
oncall:
  schedules:
    - name: platform
      layers:
        primary: [{{people: [ann, bob], start: 2026-01-05}}]
        secondary: [{{people: [bob, ann], start: 2026-01-05}}]
  policies:
    - name: bench
      levels:
        - {{targets: [oncall:primary], escalate_after: 1m}}
        - {{targets: [oncall:secondary], escalate_after: 1m}}
        - {{targets: [person:ann], escalate_after: 1m}}
"""


STEP_IN_KEY = re.compile(r":e(\d+)\.r\d+\.p\d+\.l(\d+):")


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the receivers pages go to (a paging service, a chat API) do.
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.arrivals.setdefault(key, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _database(url: str | None, tmp: Path) -> tuple[str, Any]:
    """A fresh database: a temporary SQLite file, or a new PostgreSQL database."""
    if url is None:
        return f"sqlite:///{tmp / 'bench.db'}", None
    admin = make_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
    name = f"opsbook_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = url.rsplit("/", 1)[0]

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{base}/{name}", drop


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    cut = (
        statistics.quantiles(ordered, n=100, method="inclusive")
        if len(ordered) > 1
        else ordered * 99
    )
    return {
        "n": len(ordered),
        "p50_ms": round(cut[49] * 1000, 1),
        "p99_ms": round(cut[98] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


class Workers:
    """The benchmark's own worker (a thread, as in ``opsbook serve``) and any extra
    ``opsbook worker`` processes; :meth:`stop` drains them all."""

    def __init__(self, url: str, receiver: Receiver, *, extra: int, tmp: Path) -> None:
        db = Database.connect(url)
        upgrade(db.engine)
        text = CONFIG.format(url=receiver.url)
        self.runtime = Runtime.create(
            Settings(database_url=url, log_level="warning"),
            config=load_config_text(text),
            db=db,
        )
        self._stop = threading.Event()
        self._thread = self.runtime.run_worker_thread(self._stop)
        config = tmp / "opsbook.yaml"
        config.write_text(text)
        env = {
            **os.environ,
            "OPSBOOK_DATABASE_URL": url,
            "OPSBOOK_CONFIG": str(config),
            "OPSBOOK_LOG_LEVEL": "warning",
        }
        self._procs = [
            subprocess.Popen([sys.executable, "-m", "opsbook", "worker"], env=env)
            for _ in range(extra)
        ]

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.terminate()  # SIGTERM: drains
        self._thread.join(timeout=30)
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.runtime.db.dispose()


def _open(runtime: Runtime, title: str) -> Incident:
    with runtime.db.session() as session, session.begin():
        return open_incident(
            session,
            config=runtime.config,
            title=title,
            severity="P1",
            by="bench",
            now=runtime.clock.now(),
        )


def latency(url: str, incidents: int, *, extra_workers: int, tmp: Path) -> dict[str, Any]:
    receiver = Receiver()
    workers = Workers(url, receiver, extra=extra_workers, tmp=tmp)
    runtime = workers.runtime
    try:
        triggered: dict[int, float] = {}
        for n in range(incidents):
            incident = _open(runtime, f"latency {n}")
            triggered[incident.id] = incident.triggered_at.timestamp()
            time.sleep(0.1)
        deadline = time.monotonic() + 60
        while len(receiver.arrivals) < incidents and time.monotonic() < deadline:
            time.sleep(0.2)
        latencies = []
        for key, arrived in receiver.arrivals.items():
            incident_id = int(key.split(":")[1])  # page:{incident}:{step}:...
            latencies.append(arrived - triggered[incident_id])
        return {"part": "latency", "received": len(receiver.arrivals), **_percentiles(latencies)}
    finally:
        workers.stop()
        receiver.stop()


def lateness(url: str, incidents: int, *, extra_workers: int, tmp: Path) -> dict[str, Any]:
    receiver = Receiver()
    workers = Workers(url, receiver, extra=extra_workers, tmp=tmp)
    runtime = workers.runtime
    try:
        started = time.monotonic()
        with runtime.db.session() as session, session.begin():
            for n in range(incidents):
                open_incident(
                    session,
                    config=runtime.config,
                    title=f"load {n}",
                    severity="P1",
                    by="bench",
                    now=datetime.now(UTC),
                )
        opened_s = time.monotonic() - started
        expected = incidents * 3
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with runtime.db.read_session() as session:
                done = session.scalars(
                    select(Job.id).where(Job.kind == STEP_KIND, Job.status == "done")
                ).all()
            if len(done) >= expected and len(receiver.arrivals) >= expected:
                break
            time.sleep(0.5)
        with runtime.db.read_session() as session:
            steps = session.scalars(
                select(Job).where(Job.kind == STEP_KIND, Job.status == "done")
            ).all()
        # A step is late by its finish minus its due time; its page by the receiver's
        # arrival stamp minus the same due time (what the person on call waits for).
        due = {(int(job.payload["escalation_id"]), int(job.payload["level"])): job for job in steps}
        step_late: dict[int, list[float]] = {1: [], 2: [], 3: []}
        for job in steps:
            if job.finished_at:
                late = (job.finished_at - job.run_at).total_seconds()
                step_late[int(job.payload["level"])].append(late)
        page_late: dict[int, list[float]] = {1: [], 2: [], 3: []}
        for key, arrived in receiver.arrivals.items():
            match = STEP_IN_KEY.search(key)  # page:{incident}:e{esc}.r0.p0.l{level}:...
            if match is None:
                continue
            step = due.get((int(match[1]), int(match[2])))
            if step is not None:
                page_late[int(match[2])].append(arrived - step.run_at.timestamp())
        return {
            "part": "lateness",
            "incidents": incidents,
            "opened_in_s": round(opened_s, 1),
            "steps_done": len(steps),
            "pages_received": len(receiver.arrivals),
            "steps": _percentiles([v for values in step_late.values() for v in values]),
            "pages": _percentiles([v for values in page_late.values() for v in values]),
            **{f"steps_level_{n}": _percentiles(v) for n, v in step_late.items()},
            **{f"pages_level_{n}": _percentiles(v) for n, v in page_late.items()},
        }
    finally:
        workers.stop()
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a PostgreSQL server URL; default a SQLite file")
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--load", type=int, default=1000)
    parser.add_argument("--part", choices=["latency", "lateness", "both"], default="both")
    parser.add_argument(
        "--workers", type=int, default=1, help="workers in all (PostgreSQL only beyond 1)"
    )
    args = parser.parse_args()
    if args.workers < 1 or (args.workers > 1 and not args.database):
        parser.error("--workers above 1 needs --database (SQLite has one writer)")
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory() as tmp:
        for part, run, count in (
            ("latency", latency, args.incidents),
            ("lateness", lateness, args.load),
        ):
            if args.part not in (part, "both"):
                continue
            url, drop = _database(args.database, Path(tmp) / part)
            (Path(tmp) / part).mkdir(exist_ok=True)
            try:
                result = run(url, count, extra_workers=args.workers - 1, tmp=Path(tmp) / part)
            finally:
                if drop:
                    drop()
            engine = "postgresql" if args.database else "sqlite"
            print(json.dumps({"engine": engine, "workers": args.workers, **result}), flush=True)


if __name__ == "__main__":
    main()
