"""Alertmanager's webhook (v4) in, and any JSON mapped by templates (Grafana, Sentry)."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from alerts.fixtures import (
    ALERTMANAGER_WEBHOOK,
    GRAFANA_WEBHOOK,
    SENTRY_ISSUE_ALERT,
    SENTRY_MAPPING,
    SENTRY_METRIC_ALERT,
)
from alerts.pipeline import ALERTS_CONFIG, Pipeline
from opsbook.alerts.labels import fingerprint
from support import bearer


def test_a_kept_alertmanager_forwards_groups_by_its_webhook(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    token = bearer(alert_tokens["responder"])
    response = alerts_client.post(
        "/api/v1/alerts/alertmanager", json=ALERTMANAGER_WEBHOOK, headers=token
    )
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "alerts": 1}
    [alert] = pipeline.alerts()
    assert alert.labels == ALERTMANAGER_WEBHOOK["alerts"][0]["labels"]
    assert alert.source == "alertmanager-webhook"
    assert alert.ends_at is None  # firing until Alertmanager says it resolved
    assert alert.starts_at.isoformat() == "2023-02-06T13:08:45.828000+00:00"

    resolved = copy.deepcopy(ALERTMANAGER_WEBHOOK)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-01-05T08:59:30Z"
    alerts_client.post("/api/v1/alerts/alertmanager", json=resolved, headers=token)
    [alert] = pipeline.alerts()
    assert alert.resolved_at is not None
    assert alert.ends_at.isoformat() == "2026-01-05T08:59:30+00:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "3"}, 'version: expected "4"'),
        ({"alerts": None}, "alerts: required, a list"),
        (
            {"alerts": [{"labels": {"a": "b"}, "status": "pending"}]},
            "status: expected firing or resolved",
        ),
    ],
)
def test_a_malformed_alertmanager_webhook_is_refused_whole(
    alerts_client: TestClient,
    alert_tokens: dict[str, str],
    pipeline: Pipeline,
    change: dict[str, object],
    message: str,
) -> None:
    body = {**ALERTMANAGER_WEBHOOK, **change}
    response = alerts_client.post(
        "/api/v1/alerts/alertmanager", json=body, headers=bearer(alert_tokens["responder"])
    )
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert pipeline.alerts() == []
    assert (
        alerts_client.post("/api/v1/alerts/alertmanager", json=ALERTMANAGER_WEBHOOK).status_code
        == 401
    )


def test_grafana_alerts_are_mapped_one_alert_each(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    response = alerts_client.post(
        "/api/v1/alerts/webhook/grafana", json=GRAFANA_WEBHOOK, headers=bearer("grafana-token-123")
    )
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "alerts": 2}
    # Rows are written in key order (lock order), not body order: find them by name.
    by_name = {a.labels["alertname"]: a for a in pipeline.alerts()}
    first, second = by_name["High memory usage"], by_name["High CPU usage"]
    assert first.labels == {
        "alertname": "High memory usage",
        "team": "blue",
        "zone": "us-1",
        "source": "grafana",
    }
    assert first.annotations["runbook_url"] == "https://myrunbook.com/runbook/1234"
    assert first.generator_url == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert first.starts_at.isoformat() == "2021-10-12T07:51:03.157076+00:00"
    assert first.ends_at is None
    assert second.labels["alertname"] == "High CPU usage"
    assert first.source == "webhook:grafana"

    resolved = copy.deepcopy(GRAFANA_WEBHOOK)
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2021-10-12T10:01:03.157076+02:00"
    alerts_client.post("/api/v1/alerts/webhook/grafana?token=grafana-token-123", json=resolved)
    closed = {a.labels["alertname"]: a.resolved_at is not None for a in pipeline.alerts()}
    assert closed == {"High memory usage": True, "High CPU usage": False}


def test_sentry_issue_and_metric_alerts_through_one_mapping(
    pipeline: Pipeline,
) -> None:
    from opsbook.app import create_app

    pipeline.reconfigure(ALERTS_CONFIG.rstrip("\n") + "\n" + SENTRY_MAPPING)
    with TestClient(create_app(runtime=pipeline.runtime), base_url="http://127.0.0.1") as client:
        url = "/api/v1/alerts/webhook/sentry?token=sentry-token-456"
        assert client.post(url, json=SENTRY_ISSUE_ALERT).status_code == 202
        firing_metric = {**SENTRY_METRIC_ALERT, "action": "critical"}
        assert client.post(url, json=firing_metric).status_code == 202
        by_key = {a.dedup_key: a for a in pipeline.alerts()}
        issue, metric = by_key["webhook:sentry:1117540176"], by_key["webhook:sentry:metric-7"]
        assert issue.labels == {
            "alertname": "Very Important Alert Rule!",
            "level": "error",
            "project": "1",
            "source": "sentry",
        }
        assert issue.annotations == {"summary": "ReferenceError: heck is not defined"}
        assert issue.dedup_key == "webhook:sentry:1117540176"
        assert issue.generator_url.startswith("https://sentry.io/organizations/test-org/issues/")
        assert metric.labels == {
            "alertname": "Too many errors",
            "level": "critical",
            "project": "bar",
            "source": "sentry",
        }
        assert metric.dedup_key == "webhook:sentry:metric-7"
        # Sentry's own "resolved" for the metric alert closes it.
        assert client.post(url, json=SENTRY_METRIC_ALERT).status_code == 202
        closed = {a.dedup_key: a.resolved_at is not None for a in pipeline.alerts()}
        assert closed == {"webhook:sentry:1117540176": False, "webhook:sentry:metric-7": True}


def test_mapped_webhooks_need_their_own_token(
    alerts_client: TestClient, pipeline: Pipeline
) -> None:
    url = "/api/v1/alerts/webhook/grafana"
    assert alerts_client.post(url, json=GRAFANA_WEBHOOK).status_code == 401
    assert alerts_client.post(url, json=GRAFANA_WEBHOOK, headers=bearer("wrong")).status_code == 401
    assert alerts_client.post(url + "?token=nope", json=GRAFANA_WEBHOOK).status_code == 401
    assert alerts_client.post("/api/v1/alerts/webhook/nope", json={}).status_code == 404
    assert pipeline.alerts() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"alerts": "nope"}, "alerts: expected a list of alerts"),
        (
            {"alerts": [{"labels": {"bad name": "x"}}]},
            "invalid label or annotation name 'bad name'",
        ),
        (
            {"alerts": [{"labels": {"a": "b"}, "startsAt": "noon"}]},
            "starts_at is not an RFC 3339 time",
        ),
        ({"alerts": [{"labels": "flat"}]}, "labels_from: expected an object"),
    ],
)
def test_a_payload_the_mapping_cannot_read_is_400_and_stores_nothing(
    alerts_client: TestClient, pipeline: Pipeline, body: object, message: str
) -> None:
    response = alerts_client.post(
        "/api/v1/alerts/webhook/grafana", json=body, headers=bearer("grafana-token-123")
    )
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert pipeline.alerts() == []


def test_fingerprints_of_relayed_alerts_match_the_senders() -> None:
    # Alertmanager computes the fingerprint of the label set; so do we (the value in
    # Alertmanager's docs example is illustrative, the algorithm is prometheus/common's).
    labels = ALERTMANAGER_WEBHOOK["alerts"][0]["labels"]
    assert fingerprint(labels) == fingerprint(dict(reversed(list(labels.items()))))


def test_a_mapping_that_gives_no_labels_is_refused() -> None:
    from datetime import UTC, datetime

    from opsbook.alerts.config import WebhookIntakeConfig
    from opsbook.alerts.intake import IntakeError
    from opsbook.alerts.intake.mapping import map_alerts

    hook = WebhookIntakeConfig.model_validate(
        {"name": "x", "token": "t", "labels": {"alertname": "{{ title }}"}}
    )
    now = datetime(2026, 1, 5, tzinfo=UTC)
    assert map_alerts({"title": "Down"}, hook, now=now)[0].labels == {"alertname": "Down"}
    with pytest.raises(IntakeError, match="alert: the mapping gave no labels"):
        map_alerts({"other": 1}, hook, now=now)
