"""How long `opsbook report` takes over a range holding N incidents.

Seeds N incidents in 30 days (each acknowledged and resolved, with 8 timeline entries, a
page and, one in ten, an escalation), then builds the report by severity (what
``opsbook report --by severity``, ``GET /api/v1/reports/incidents`` and ``/reports``
do) five times and prints the best and the median wall time.  No peer: reports are
read by people a few times a day, so the figure that matters is the absolute one.
Bounded by N; everything created here is removed here.

    .venv/bin/python bench/incident_report.py                         # SQLite
    .venv/bin/python bench/incident_report.py --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from opsbook.config.loader import load_config_text
from opsbook.core.db import Database, make_engine
from opsbook.core.migrate import upgrade
from opsbook.incidents.models import Incident, IncidentEvent
from opsbook.incidents.reports.service import incident_report

CONFIG = """\
service: {name: shop, timezone: Europe/Berlin}
people:
  - {id: alice, name: Alice, email: alice@example.com, timezone: Europe/London}
  - {id: bob, name: Bob, email: bob@example.com, timezone: America/New_York}
"""
START = datetime(2026, 3, 1, tzinfo=UTC)
KINDS = (
    "created",
    "notification_queued",
    "acknowledged",
    "status_changed",
    "note",
    "status_changed",
    "checklist_ticked",
    "status_changed",
)


def seed(db: Database, n: int) -> None:
    step = timedelta(days=30) / n
    with db.session() as session, session.begin():
        for number in range(1, n + 1):
            at = START + step * number
            incident = Incident(
                number=number,
                title=f"incident {number}",
                service=("shop", "search")[number % 2],
                severity=f"P{number % 4}",
                status="resolved",
                summary="",
                channel_name=f"#i-{number}",
                components=[],
                created_by="alerts",
                created_at=at,
                triggered_at=at,
                acknowledged_at=at + timedelta(minutes=number % 30),
                resolved_at=at + timedelta(minutes=30 + number % 90),
                updated_at=at,
                escalation_level=0,
                escalation_cycle=0,
                escalation_since=at,
                version=1,
            )
            session.add(incident)
            session.flush()
            entries = [
                IncidentEvent(
                    incident_id=incident.id,
                    at=at,
                    kind=kind,
                    actor="person:alice",
                    body="",
                    data={},
                    visibility="internal",
                )
                for kind in KINDS
            ]
            person = ("alice", "bob")[number % 2]
            entries.append(
                IncidentEvent(
                    incident_id=incident.id,
                    at=at,
                    kind="paged",
                    actor="oncall",
                    body="",
                    data={
                        "person": person,
                        "channel": "sms",
                        "level": 1,
                        "step": "primary",
                        "notification_key": f"k{number}",
                    },
                    visibility="internal",
                )
            )
            if number % 10 == 0:
                entries.append(
                    IncidentEvent(
                        incident_id=incident.id,
                        at=at,
                        kind="escalated",
                        actor="opsbook",
                        body="",
                        data={},
                        visibility="internal",
                    )
                )
            session.add_all(entries)


def measure(url: str, n: int) -> tuple[float, float]:
    db = Database.connect(url)
    try:
        upgrade(db.engine)
        seed(db, n)
        config = load_config_text(CONFIG)
        times = []
        for _ in range(5):
            began = time.perf_counter()
            with db.read_session() as session:
                report = incident_report(
                    session,
                    config=config,
                    start=START,
                    end=START + timedelta(days=31),
                    by="severity",
                )
            times.append(time.perf_counter() - began)
            assert report.total.incidents == n
        return min(times), statistics.median(times)
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--database", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    for n in args.incidents:
        if args.database is None:
            with tempfile.TemporaryDirectory() as work:
                best, median = measure(f"sqlite:///{Path(work) / 'bench.db'}", n)
        else:
            base, _, _ = args.database.rpartition("/")
            name = f"opsbook_bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(args.database, isolation_level="AUTOCOMMIT", pool_size=1)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                best, median = measure(f"{base}/{name}", n)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        print(
            f"{n:>7,} incidents, {n * 9 + n // 10:>8,} entries: best {best * 1000:7.1f} ms, "
            f"median {median * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
