"""Seed a status-page benchmark database: 50 components in 5 groups, 90 days, incidents.

Usage: .venv/bin/python bench/statuspage_seed.py DIR
Writes DIR/opsbook.yaml and DIR/opsbook.db (SQLite), then builds the snapshot once.
The 90 days of history are the checks' day rollups (what the uptime bars read), written
directly: producing them through 6.5 million check results would take far longer than
the benchmark.  Deterministic (fixed seed), so every run serves the same page shape.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

from opsbook.checks.models import CheckRollup, CheckStateRecord
from opsbook.config import load_config
from opsbook.core.clock import SystemClock
from opsbook.core.db import Database
from opsbook.core.migrate import upgrade
from opsbook.status import service
from opsbook.status.components import slug
from opsbook.status.snapshot import SnapshotKeeper

GROUPS = {
    "Public API": [
        "REST API",
        "GraphQL API",
        "Webhooks delivery",
        "API authentication",
        "Rate limiter",
        "Public SDK endpoints",
        "Bulk import API",
        "Search API",
        "Export API",
        "Realtime events",
    ],
    "Web application": [
        "Dashboard",
        "Login & SSO",
        "Incident timeline",
        "Status page editor",
        "On-call schedules",
        "Reports",
        "Team management",
        "Billing portal",
        "Mobile web",
        "Integrations UI",
    ],
    "Notifications": [
        "Email (EU)",
        "Email (US)",
        "SMS (EU)",
        "SMS (US)",
        "Voice calls",
        "Push (iOS)",
        "Push (Android)",
        "Slack",
        "Microsoft Teams",
        "Outgoing webhooks",
    ],
    "Monitoring": [
        "HTTP checks (EU)",
        "HTTP checks (US)",
        "HTTP checks (APAC)",
        "TCP checks",
        "DNS checks",
        "TLS expiry checks",
        "Heartbeat ingest",
        "Alert ingest",
        "Metrics pipeline",
        "Check scheduler",
    ],
    "Infrastructure": [
        "Primary database",
        "Read replicas",
        "Object storage",
        "Message queue",
        "Cache cluster",
        "CDN",
        "DNS (authoritative)",
        "Load balancers",
        "Backups",
        "Log pipeline",
    ],
}


def write_config(directory: Path) -> Path:
    lines = ["service:", "  name: Acme Cloud", "components:"]
    for group, names in GROUPS.items():
        lines += [f'  - {{name: "{name}", group: "{group}"}}' for name in names]
    lines.append("checks:")
    for index, name in enumerate(n for names in GROUPS.values() for n in names):
        lines.append(
            f'  - {{name: check-{index:02}, http: {{url: "http://127.0.0.1:9/{index}"}},'
            f' component: "{name}"}}'
        )
    lines += ["status_page:", "  name: Acme Cloud"]
    path = directory / "opsbook.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(db: Database, now: datetime) -> None:
    rnd = random.Random(20261122)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rollups, states = [], []
    names = [n for names in GROUPS.values() for n in names]
    for index, _name in enumerate(names):
        check = f"check-{index:02}"
        no_data = rnd.choice([0] * 9 + [rnd.randint(10, 40)])
        bad = set(rnd.sample(range(no_data, 90), rnd.choice([0, 0, 1, 1, 1, 2, 2, 3])))
        for offset in range(no_data, 90):
            day = today - timedelta(days=89 - offset)
            observed = 1440 if offset < 89 else now.hour * 60 + now.minute or 1
            down = rnd.randint(4, 180) if offset in bad else 0
            rollups.append(
                CheckRollup(
                    check_name=check,
                    resolution="day",
                    bucket_start=day,
                    count=observed,
                    failures=down,
                    unknown=0,
                    latency_sum_ms=observed * 42.0,
                    latency_hist={},
                    down_minutes=down,
                    observed_minutes=observed,
                    unknown_minutes=0,
                )
            )
        status = "down" if rnd.random() < 0.04 else "up"
        states.append(
            CheckStateRecord(
                check_name=check,
                kind="http",
                status=status,
                since=now,
                consecutive_failures=0,
                consecutive_successes=1,
                last_run_at=now,
            )
        )
    with db.session() as session, session.begin():
        session.add_all(rollups + states)
    components = [n for names in GROUPS.values() for n in names]
    with db.session() as session, session.begin():
        for i in range(6):
            started = now - timedelta(days=i * 9 + 2, hours=3)
            incident = service.open_public_incident(
                session,
                name=f"Elevated error rates for {rnd.choice(components)}",
                status="investigating",
                body="We are investigating elevated error rates.",
                component_statuses={},
                by="bench",
                now=started,
            )
            incident.components = [slug(components[i * 7])]
            service.post_update(
                session,
                code=incident.code,
                status="identified",
                body="A faulty configuration change was rolled back.",
                by="bench",
                now=started + timedelta(minutes=20),
            )
            service.post_update(
                session,
                code=incident.code,
                status="resolved",
                body="The fix has been deployed and error rates are back to normal.",
                by="bench",
                now=started + timedelta(minutes=50),
            )


def main() -> None:
    directory = Path(sys.argv[1])
    config_path = write_config(directory)
    config = load_config(config_path)
    db = Database.connect(f"sqlite:///{directory / 'opsbook.db'}")
    upgrade(db.engine)
    now = SystemClock().now()
    seed(db, now)
    keeper = SnapshotKeeper(db=db, clock=SystemClock(), config=lambda: config, owner="seed")
    snapshot = keeper.refresh(force=True)
    assert snapshot is not None
    (directory / "page.html").write_bytes(snapshot.documents["/"].body)
    db.dispose()


if __name__ == "__main__":
    main()
