"""Paging figures: trigger-to-webhook latency, and escalation step lateness under load.

1. ``latency``: 200 P1 incidents opened one after another (every 100 ms); each pages the
   on-call through a webhook to a receiver on 127.0.0.1, which stamps arrival.  Latency is
   arrival minus the incident's ``triggered_at``: the target-delivery job, the first
   escalation step, the outbox row and the HTTP POST, through a real worker (the one
   ``opsbook serve`` runs) with the default 1 s poll interval.
2. ``lateness``: 1,000 incidents opened at once, each escalating through three 1-minute
   levels; lateness of each step is its job's finish time minus its due time.

Bounded (a fixed number of incidents, a deadline per part), loopback only, everything it
starts it stops.

    .venv/bin/python bench/oncall_paging.py                  # SQLite (a temporary file)
    .venv/bin/python bench/oncall_paging.py --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import statistics
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


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
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


def _start(url: str, receiver: Receiver) -> tuple[Runtime, threading.Event, threading.Thread]:
    db = Database.connect(url)
    upgrade(db.engine)
    config = load_config_text(CONFIG.format(url=receiver.url))
    runtime = Runtime.create(Settings(database_url=url, log_level="warning"), config=config, db=db)
    stop = threading.Event()
    return runtime, stop, runtime.run_worker_thread(stop)


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


def latency(url: str, incidents: int) -> dict[str, Any]:
    receiver = Receiver()
    runtime, stop, worker = _start(url, receiver)
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
        stop.set()
        worker.join(timeout=30)
        receiver.stop()
        runtime.db.dispose()


def lateness(url: str, incidents: int) -> dict[str, Any]:
    receiver = Receiver()
    runtime, stop, worker = _start(url, receiver)
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
        committed = datetime.now(UTC)
        expected = incidents * 3
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with runtime.db.read_session() as session:
                done = session.scalars(
                    select(Job.id).where(Job.kind == STEP_KIND, Job.status == "done")
                ).all()
            if len(done) >= expected:
                break
            time.sleep(1)
        with runtime.db.read_session() as session:
            steps = session.scalars(
                select(Job).where(Job.kind == STEP_KIND, Job.status == "done")
            ).all()
        late = [(job.finished_at - job.run_at).total_seconds() for job in steps if job.finished_at]
        # Level-1 steps fall due while the opening transaction is still uncommitted; only
        # steps due after it measure the worker (levels 2 and 3).
        after = [
            (job.finished_at - job.run_at).total_seconds()
            for job in steps
            if job.finished_at and job.run_at >= committed
        ]
        return {
            "due_after_commit": _percentiles(after),
            "part": "lateness",
            "incidents": incidents,
            "opened_in_s": round(opened_s, 1),
            "steps_done": len(steps),
            "pages_received": len(receiver.arrivals),
            **_percentiles(late),
        }
    finally:
        stop.set()
        worker.join(timeout=30)
        receiver.stop()
        runtime.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a PostgreSQL server URL; default a SQLite file")
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--load", type=int, default=1000)
    parser.add_argument("--part", choices=["latency", "lateness", "both"], default="both")
    args = parser.parse_args()
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
                result = run(url, count)
            finally:
                if drop:
                    drop()
            engine = "postgresql" if args.database else "sqlite"
            print(json.dumps({"engine": engine, **result}), flush=True)


if __name__ == "__main__":
    main()
