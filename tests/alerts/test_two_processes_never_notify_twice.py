"""Two Opsbook processes on one PostgreSQL, both sent every alert (as a Prometheus HA
pair sends to every Alertmanager it knows): one notification per group, one incident
per incident group, never two."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts.servers import ServerProcess, post_json, webhook_config
from notify.servers import WebhookReceiver
from opsbook import incidents
from opsbook.core.clock import SystemClock
from opsbook.core.db import Database

GROUPS = 12
PER_GROUP = 5


def _config(hook: str) -> str:
    routes = """\
    routes:
      - matchers: ['severity="critical"']
        incident: {group_by: [service]}
"""
    return webhook_config(hook, name="ha", group_wait="2s", group_interval="1h", routes=routes)


@pytest.mark.slow
def test_two_processes_on_postgresql_notify_and_page_once(db: Database, tmp_path: Path) -> None:
    if db.dialect != "postgresql":
        pytest.skip("several processes share one database on PostgreSQL only")
    receiver = WebhookReceiver(secret=None, clock=SystemClock())
    receiver.start()
    config = tmp_path / "opsbook.yaml"
    config.write_text(_config(receiver.url))
    url = db.engine.url.render_as_string(hide_password=False)
    servers = [
        ServerProcess(config=config, database=url, log=tmp_path / f"server{n}.log") for n in (1, 2)
    ]
    try:
        for server in servers:
            server.start()
        for group in range(GROUPS):
            severity = "critical" if group % 2 else "warning"
            body = [
                {
                    "labels": {
                        "alertname": "Down",
                        "service": f"svc-{group}",
                        "instance": f"i-{i}",
                        "severity": severity,
                    }
                }
                for i in range(PER_GROUP)
            ]
            for server in servers:  # every alert to both, like a Prometheus HA pair
                assert post_json(server.url + "/api/v2/alerts", body) == 200
        deadline = time.monotonic() + 30
        while len(receiver.requests) < GROUPS and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # any duplicate would arrive within another flush: wait it out
        payloads = [json.loads(r.body) for r in receiver.requests]
        keys = Counter(r.headers.get("idempotency-key") for r in receiver.requests)
        assert [k for k, n in keys.items() if n > 1] == []
        per_group = Counter(p["groupKey"] for p in payloads)
        assert len(per_group) == GROUPS
        assert set(per_group.values()) == {1}
        assert all(len(p["alerts"]) == PER_GROUP for p in payloads)
        deadline = time.monotonic() + 20
        opened = 0
        while time.monotonic() < deadline:
            with db.read_session() as session:
                opened = session.scalar(select(func.count()).select_from(incidents.Incident)) or 0
                linked = (
                    session.scalar(select(func.count()).select_from(incidents.IncidentAlert)) or 0
                )
            if opened >= GROUPS // 2 and linked >= GROUPS // 2 * PER_GROUP:
                break
            time.sleep(0.2)
        time.sleep(1)
        with db.read_session() as session:
            services = Counter(session.scalars(select(incidents.Incident.service)))
            linked = session.scalar(select(func.count()).select_from(incidents.IncidentAlert))
        assert services == Counter({f"svc-{g}": 1 for g in range(1, GROUPS, 2)})
        assert linked == GROUPS // 2 * PER_GROUP
    finally:
        for server in servers:
            server.stop()
        receiver.stop()
