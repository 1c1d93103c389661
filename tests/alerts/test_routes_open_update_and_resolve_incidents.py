"""A route with `incident:` opens one incident per group of alerts, maps severity, raises
it, and resolves it with its last alert; PagerDuty's acknowledge acknowledges it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.pipeline import ALERTS_CONFIG, Pipeline
from opsbook import incidents
from opsbook.alerts.labels import fingerprint
from opsbook.alerts.matchers import parse_all
from opsbook.alerts.silences import save

INCIDENT_ROUTES = ALERTS_CONFIG.replace(
    "    repeat_interval: 4h\n",
    "    repeat_interval: 4h\n"
    "    routes:\n"
    "      - matchers: ['severity=~\"critical|warning\"']\n"
    "        incident:\n"
    "          group_by: [service]\n"
    "          group_window: 1h\n"
    "      - matchers: ['integration=\"datadog\"']\n"
    "        incident: {severity: P3, severity_map: {}}\n",
)


def _incidents(pipeline: Pipeline) -> list[incidents.Incident]:
    with pipeline.db.read_session() as session:
        return list(session.scalars(select(incidents.Incident).order_by(incidents.Incident.number)))


def _linked(pipeline: Pipeline, incident_id: int) -> list[str]:
    with pipeline.db.read_session() as session:
        return [a.alert_key for a in incidents.alerts(session, incident_id=incident_id)]


def test_a_critical_alert_opens_a_p1_incident_and_its_group_joins_it(pipeline: Pipeline) -> None:
    pipeline.reconfigure(INCIDENT_ROUTES)
    first = {"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"}
    pipeline.fire(**first)
    pipeline.run_jobs()
    [incident] = _incidents(pipeline)
    assert (incident.severity, incident.status, incident.service) == ("P2", "triggered", "checkout")
    assert incident.title == "HighErrorRate on checkout"
    assert incident.source == "test"
    # Same service within the window: the same incident, raised to P1 by a critical alert.
    second = {"alertname": "LatencyHigh", "service": "checkout", "severity": "critical"}
    pipeline.fire(**second)
    pipeline.run_jobs()
    [incident] = _incidents(pipeline)
    assert incident.severity == "P1"
    assert sorted(_linked(pipeline, incident.id)) == sorted(
        [fingerprint(first), fingerprint(second)]
    )
    # Another service: another incident.
    pipeline.fire(alertname="HighErrorRate", service="search", severity="warning")
    pipeline.run_jobs()
    assert [i.service for i in _incidents(pipeline)] == ["checkout", "search"]


def test_the_incident_resolves_when_its_last_alert_resolves(pipeline: Pipeline) -> None:
    pipeline.reconfigure(INCIDENT_ROUTES)
    a = {"alertname": "A", "service": "checkout", "severity": "critical"}
    b = {"alertname": "B", "service": "checkout", "severity": "critical"}
    pipeline.fire(**a)
    pipeline.fire(**b)
    pipeline.run_jobs()
    pipeline.resolve(**a)
    pipeline.run_jobs()
    assert [i.status for i in _incidents(pipeline)] == ["triggered"]
    pipeline.resolve(**b)
    pipeline.run_jobs()
    assert [i.status for i in _incidents(pipeline)] == ["resolved"]
    # It fires again: a new incident (the resolved one is not reopened).
    pipeline.fire(**a)
    pipeline.run_jobs()
    assert [i.status for i in _incidents(pipeline)] == ["resolved", "triggered"]


def test_after_the_group_window_a_new_incident_opens(pipeline: Pipeline) -> None:
    pipeline.reconfigure(INCIDENT_ROUTES)
    pipeline.fire(alertname="A", service="checkout", severity="critical")
    pipeline.run_jobs()
    pipeline.advance(3601)
    pipeline.fire(alertname="B", service="checkout", severity="critical")
    pipeline.run_jobs()
    assert len(_incidents(pipeline)) == 2


def test_a_silenced_alert_opens_no_incident_until_the_silence_ends(pipeline: Pipeline) -> None:
    pipeline.reconfigure(INCIDENT_ROUTES)
    now = pipeline.clock.now()
    from datetime import timedelta

    with pipeline.db.session() as session, session.begin():
        save(
            session,
            matchers=parse_all(['service="checkout"']),
            starts_at=now,
            ends_at=now + timedelta(minutes=30),
            created_by="rita",
            comment="deploy",
            now=now,
        )
    pipeline.fire(alertname="A", service="checkout", severity="critical")
    pipeline.run_jobs()
    assert _incidents(pipeline) == []
    pipeline.advance(30 * 60)
    assert [i.severity for i in _incidents(pipeline)] == ["P1"]


def test_pagerduty_events_open_acknowledge_and_resolve_the_incident(
    pipeline: Pipeline,
) -> None:
    from opsbook.app import create_app

    pipeline.reconfigure(INCIDENT_ROUTES)
    event = {
        "routing_key": "samplekeyhere00000000000000000000",
        "event_action": "trigger",
        "dedup_key": "disk-db-1",
        "payload": {"summary": "Disk 91% on db-1", "source": "db-1", "severity": "error"},
    }
    with TestClient(create_app(runtime=pipeline.runtime), base_url="http://127.0.0.1") as client:
        assert client.post("/v2/enqueue", json=event).status_code == 202
        pipeline.run_jobs()
        [incident] = _incidents(pipeline)
        assert incident.severity == "P3"  # the datadog route's severity
        assert _linked(pipeline, incident.id) == ["disk-db-1"]  # PagerDuty's own key
        client.post("/v2/enqueue", json={**event, "event_action": "acknowledge"})
        pipeline.run_jobs()
        assert _incidents(pipeline)[0].status == "acknowledged"
        client.post("/v2/enqueue", json={**event, "event_action": "resolve"})
        pipeline.run_jobs()
        assert _incidents(pipeline)[0].status == "resolved"


def test_routes_without_incident_open_none(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="A", service="checkout", severity="critical")
    pipeline.run_jobs()
    assert _incidents(pipeline) == []


def test_a_component_label_marks_the_incidents_affected_components(pipeline: Pipeline) -> None:
    pipeline.reconfigure(
        INCIDENT_ROUTES.replace(
            "service: {name: shop}\n",
            "service: {name: shop}\ncomponents:\n  - {name: Checkout}\n  - {name: API}\n",
        )
    )
    pipeline.fire(alertname="A", service="shop", severity="critical", component="checkout")
    pipeline.run_jobs()
    [incident] = _incidents(pipeline)
    assert incident.components == ["Checkout"]
    pipeline.fire(alertname="B", service="shop", severity="critical", component="API")
    pipeline.fire(alertname="C", service="shop", severity="critical", component="nonesuch")
    pipeline.run_jobs()
    [incident] = _incidents(pipeline)
    assert incident.components == ["Checkout", "API"]
