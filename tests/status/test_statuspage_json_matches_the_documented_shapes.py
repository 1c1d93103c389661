"""Every Statuspage-compatible endpoint against fixtures written from Statuspage's docs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsbook.core.clock import FakeClock
from opsbook.runtime import Runtime
from opsbook.status import service

FIXTURES = Path(__file__).parent / "fixtures" / "statuspage"
ENDPOINTS = [
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
]
ENUMS = {
    "indicator": {"none", "minor", "major", "critical", "maintenance"},
    "component": {
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    },
    "incident": {"investigating", "identified", "monitoring", "resolved", "postmortem"},
    "maintenance": {"scheduled", "in_progress", "verifying", "completed"},
    "impact": {"none", "minor", "major", "critical", "maintenance"},
}
NULLABLE = {"description", "monitoring_at", "resolved_at"}


def conforms(ours: Any, documented: Any, path: str) -> list[str]:
    """Every key the documentation shows, with a value of the documented JSON type."""
    if isinstance(documented, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object, got {type(ours).__name__}"]
        problems = []
        for key, value in documented.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            elif value is None or (key in NULLABLE and ours[key] is None):
                if key in NULLABLE and ours[key] is not None and not isinstance(ours[key], str):
                    problems.append(f"{path}.{key}: expected a string or null")
            else:
                problems += conforms(ours[key], value, f"{path}.{key}")
        return problems
    if isinstance(documented, list):
        if not isinstance(ours, list):
            return [f"{path}: expected an array"]
        if not ours:
            return [f"{path}: empty, nothing to compare (the test must fill it)"]
        return [
            p
            for index, item in enumerate(ours)
            for p in conforms(item, documented[0], f"{path}[{index}]")
        ]
    if type(ours) is not type(documented):
        return [f"{path}: expected {type(documented).__name__}, got {type(ours).__name__}"]
    return []


def enum_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    if "status" in body and body["status"]["indicator"] not in ENUMS["indicator"]:
        problems.append(f"indicator {body['status']['indicator']}")
    for component in body.get("components", []):
        if component["status"] not in ENUMS["component"]:
            problems.append(f"component status {component['status']}")
    for incident in body.get("incidents", []):
        problems += [f"incident status {incident['status']}"] * (
            incident["status"] not in ENUMS["incident"]
        )
        problems += [f"impact {incident['impact']}"] * (incident["impact"] not in ENUMS["impact"])
        for update in incident["incident_updates"]:
            problems += [f"update {update['status']}"] * (update["status"] not in ENUMS["incident"])
    for maintenance in body.get("scheduled_maintenances", []):
        problems += [f"maintenance {maintenance['status']}"] * (
            maintenance["status"] not in ENUMS["maintenance"]
        )
    return problems


@pytest.fixture
def populated(runtime: Runtime, clock: FakeClock) -> None:
    """One unresolved and one resolved incident, one maintenance upcoming, one active."""
    config, now = runtime.config, clock.now()
    with runtime.db.session() as session, session.begin():
        open_one = service.open_public_incident(
            session,
            name="Unplanned Database Outage",
            status="investigating",
            body="The database is down.",
            component_statuses={"api": "major_outage"},
            by="alice",
            now=now - timedelta(hours=2),
        )
        service.post_update(
            session,
            code=open_one.code,
            status="identified",
            body="A failed disk.",
            by="alice",
            now=now - timedelta(hours=1),
        )
        done = service.open_public_incident(
            session,
            name="Slow dashboard",
            status="investigating",
            body="Slow pages.",
            component_statuses={"website": "degraded_performance"},
            by="alice",
            now=now - timedelta(days=3),
        )
        service.post_update(
            session,
            code=done.code,
            status="resolved",
            body="Fixed.",
            by="alice",
            now=now - timedelta(days=3) + timedelta(minutes=30),
        )
        service.schedule_maintenance(
            session,
            config=config,
            name="Network maintenance",
            starts=now + timedelta(days=1),
            ends=now + timedelta(days=1, hours=1),
            components=["Website"],
            body="Routine.",
            by="alice",
            now=now,
        )
        service.schedule_maintenance(
            session,
            config=config,
            name="Database maintenance",
            starts=now - timedelta(minutes=10),
            ends=now + timedelta(hours=1),
            components=["Payments"],
            body="In progress.",
            by="alice",
            now=now,
        )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_has_the_documented_shape_and_enums(
    client: TestClient, populated: None, endpoint: str
) -> None:
    response = client.get(f"/api/v2/{endpoint}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    documented = json.loads((FIXTURES / endpoint.replace("/", "-")).read_text())
    body = response.json()
    assert set(body) == set(documented)
    assert conforms(body, documented, endpoint) == []
    assert enum_problems(body) == []


def test_lists_hold_what_each_endpoint_promises(client: TestClient, populated: None) -> None:
    summary = client.get("/api/v2/summary.json").json()
    assert [i["name"] for i in summary["incidents"]] == ["Unplanned Database Outage"]
    assert summary["incidents"][0]["incident_updates"][0]["status"] == "identified"
    assert summary["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    assert {m["status"] for m in summary["scheduled_maintenances"]} == {"scheduled", "in_progress"}
    names = [i["name"] for i in client.get("/api/v2/incidents.json").json()["incidents"]]
    assert names == ["Unplanned Database Outage", "Slow dashboard"]  # newest first
    upcoming = client.get("/api/v2/scheduled-maintenances/upcoming.json").json()
    active = client.get("/api/v2/scheduled-maintenances/active.json").json()
    assert [m["name"] for m in upcoming["scheduled_maintenances"]] == ["Network maintenance"]
    assert [m["name"] for m in active["scheduled_maintenances"]] == ["Database maintenance"]
    components = client.get("/api/v2/components.json").json()["components"]
    payments = next(c for c in components if c["name"] == "Payments")
    assert payments["status"] == "under_maintenance"
    group = next(c for c in components if c["group"])
    assert group["components"] == ["website", "payments"]


def test_statuspage_paths_do_not_shadow_the_alertmanager_api(client: TestClient) -> None:
    # /api/v2/alerts, /api/v2/silences and /api/v2/status belong to the Alertmanager API.
    for path in ("/api/v2/alerts", "/api/v2/silences", "/api/v2/status"):
        assert client.get(path).status_code in (401, 404, 405)
