"""POST /v2/enqueue exactly as PagerDuty's Events API v2 answers it.

The request fixtures are the examples of PagerDuty's "Send an Alert Event" page; the
answers are PagerDuty's 202 (``{"status": "success", "message": "Event processed",
"dedup_key": ...}``) and 400 (``{"status": "invalid event", "message": "Event object is
invalid", "errors": [...]}``).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alerts.pipeline import Pipeline
from opsbook.alerts import committer

KEY = "samplekeyhere00000000000000000000"
OTHER_KEY = "otherkeyhere00000000000000000000"

TRIGGER = {
    "payload": {
        "summary": "Example alert on host1.example.com",
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",  # noqa: E501
        "severity": "info",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
        "custom_details": {"ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": KEY,
    "dedup_key": "samplekeyhere",
    "images": [
        {
            "src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
            "href": "https://example.com/",
            "alt": "Example text",
        }
    ],
    "links": [{"href": "https://example.com/", "text": "Link text"}],
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
}
ACKNOWLEDGE = {"routing_key": KEY, "dedup_key": "samplekeyhere", "event_action": "acknowledge"}
RESOLVE = {"routing_key": KEY, "dedup_key": "samplekeyhere", "event_action": "resolve"}


def _open(pipeline: Pipeline) -> list[object]:
    return [a for a in pipeline.alerts() if a.resolved_at is None]


def test_trigger_is_202_with_pagerdutys_body_and_maps_to_the_service(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    response = alerts_client.post("/v2/enqueue", json=TRIGGER)
    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "samplekeyhere",
    }
    [alert] = pipeline.alerts()
    assert alert.source == "pagerduty"
    assert alert.dedup_key == "pagerduty:datadog:samplekeyhere"
    assert alert.labels == {
        "alertname": "deploy",
        "service": "checkout",  # the routing key's service
        "integration": "datadog",
        "severity": "info",
        "source": TRIGGER["payload"]["source"],
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
    }
    assert alert.annotations["summary"] == "Example alert on host1.example.com"
    assert alert.annotations["client_url"] == "https://monitoring.example.com"
    assert alert.extra == {
        "images": TRIGGER["images"],
        "links": TRIGGER["links"],
        "custom_details": {"ping time": "1500ms", "load avg": 0.75},
    }
    assert alert.starts_at.isoformat() == "2015-07-17T08:42:58.315000+00:00"


def test_repeat_triggers_touch_the_open_alert_and_resolve_closes_it(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    for _ in range(3):
        assert alerts_client.post("/v2/enqueue", json=TRIGGER).status_code == 202
    [alert] = pipeline.alerts()
    assert alert.refreshes == 2
    assert alerts_client.post("/v2/enqueue", json=ACKNOWLEDGE).status_code == 202
    assert pipeline.alerts()[0].acknowledged_at is not None
    response = alerts_client.post("/v2/enqueue", json=RESOLVE)
    assert response.json()["dedup_key"] == "samplekeyhere"
    assert _open(pipeline) == []
    # Once resolved, a trigger with the same key is a new alert.
    alerts_client.post("/v2/enqueue", json=TRIGGER)
    assert len(pipeline.alerts()) == 2
    assert len(_open(pipeline)) == 1


def test_a_dedup_key_only_reaches_alerts_of_its_own_routing_key(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    alerts_client.post("/v2/enqueue", json=TRIGGER)
    alerts_client.post("/v2/enqueue", json={**TRIGGER, "routing_key": OTHER_KEY})
    assert len(_open(pipeline)) == 2  # same dedup_key, other routing key: another alert
    alerts_client.post("/v2/enqueue", json={**RESOLVE, "routing_key": OTHER_KEY})
    [still_open] = _open(pipeline)
    assert still_open.labels["integration"] == "datadog"
    other = next(a for a in pipeline.alerts() if a.labels["integration"] == "other")
    assert other.labels["service"] == "shop"  # no service given: service.name


def test_a_trigger_without_dedup_key_is_always_a_new_alert(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    body = {k: v for k, v in TRIGGER.items() if k != "dedup_key"}
    keys = [alerts_client.post("/v2/enqueue", json=body).json()["dedup_key"] for _ in range(2)]
    assert keys[0] != keys[1]
    assert all(len(key) == 32 for key in keys)
    assert len(_open(pipeline)) == 2


def test_acknowledge_and_resolve_of_unknown_keys_are_dropped_with_202(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    for event in (ACKNOWLEDGE, RESOLVE):
        response = alerts_client.post("/v2/enqueue", json={**event, "dedup_key": "never-seen"})
        assert response.status_code == 202
    assert pipeline.alerts() == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({**TRIGGER, "routing_key": "nope"}, ["Invalid routing key"]),
        (
            {k: v for k, v in TRIGGER.items() if k != "routing_key"},
            ["'routing_key' is missing or blank"],
        ),
        (
            {**TRIGGER, "event_action": "explode"},
            ["'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"],
        ),
        (
            {**TRIGGER, "payload": {**TRIGGER["payload"], "summary": ""}},
            ["'payload.summary' is missing or blank"],
        ),
        (
            {**TRIGGER, "payload": {**TRIGGER["payload"], "severity": "bad"}},
            ["'payload.severity' is invalid (must be one of: critical, error, warning, info)"],
        ),
        (
            {**TRIGGER, "payload": {"summary": "x"}},
            [
                "'payload.source' is missing or blank",
                "'payload.severity' is invalid (must be one of: critical, error, warning, info)",
            ],
        ),
        ({**TRIGGER, "payload": None}, ["'payload' is missing or is not an object"]),
        (
            {**TRIGGER, "dedup_key": "k" * 256},
            ["'dedup_key' must be a string of at most 255 characters"],
        ),
        ({**RESOLVE, "dedup_key": None}, ["'dedup_key' is missing or blank"]),
        (
            {**TRIGGER, "links": [{"text": "no href"}]},
            ["'links' must be a list of objects, each with 'href'"],
        ),
        (
            {**TRIGGER, "payload": {**TRIGGER["payload"], "timestamp": "noon"}},
            ["'payload.timestamp' is not an RFC 3339 time: 'noon'"],
        ),
        (["not", "an", "object"], ["Event object must be a JSON object"]),
    ],
)
def test_invalid_events_get_pagerdutys_400_and_nothing_is_stored(
    alerts_client: TestClient, pipeline: Pipeline, body: object, errors: list[str]
) -> None:
    response = alerts_client.post("/v2/enqueue", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": errors,
    }
    assert pipeline.alerts() == []


def test_a_body_that_is_not_json_is_400_invalid_event(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    response = alerts_client.post("/v2/enqueue", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid JSON"]


def test_an_overloaded_intake_answers_429_with_retry_after(
    alerts_client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(committer, "MAX_QUEUED_ALERTS", 0)
    response = alerts_client.post("/v2/enqueue", json=TRIGGER)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert response.json()["status"] == "throttle event"
    assert pipeline.alerts() == []
