"""Payloads as the real senders document them (Alertmanager, Grafana, Sentry)."""

from __future__ import annotations

from typing import Any

# Alertmanager's webhook_config JSON (version 4), as receivers get it.
ALERTMANAGER_WEBHOOK: dict[str, Any] = {
    "receiver": "sms",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ProbeFailure",
                "instance": "https://server.example.org",
                "job": "http_checks",
                "monitor": "master",
                "severity": "critical",
            },
            "annotations": {
                "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",  # noqa: E501
                "summary": "BlackBox Probe Failure: https://server.example.org",
            },
            "startsAt": "2023-02-06T13:08:45.828Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0\\u0026g0.tab=1",
            "fingerprint": "1a30ba71cca2921f",
        }
    ],
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {
        "alertname": "ProbeFailure",
        "instance": "https://server.example.org",
        "job": "http_checks",
        "monitor": "master",
        "severity": "critical",
    },
    "commonAnnotations": {
        "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",  # noqa: E501
        "summary": "BlackBox Probe Failure: https://server.example.org",
    },
    "externalURL": "http://prometheus.example.org:9093",
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
}

# Grafana Alerting's webhook contact point, from Grafana's documentation.
GRAFANA_WEBHOOK: dict[str, Any] = {
    "receiver": "My Super Webhook",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
            "annotations": {
                "description": "The system has high memory usage",
                "runbook_url": "https://myrunbook.com/runbook/1234",
                "summary": "This alert was triggered for zone us-1",
            },
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
        },
        {
            "status": "firing",
            "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
            "annotations": {
                "description": "The system has high CPU usage",
                "runbook_url": "https://myrunbook.com/runbook/1234",
                "summary": "This alert was triggered for zone eu-1",
            },
            "startsAt": "2021-10-12T09:56:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
            "fingerprint": "bc97ff14869b13e3",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
        },
    ],
    "groupLabels": {},
    "commonLabels": {"team": "blue"},
    "commonAnnotations": {},
    "externalURL": "https://play.grafana.org/",
    "version": "1",
    "groupKey": "{}:{}",
    "truncatedAlerts": 0,
    "title": "[FIRING:2]  (blue)",
    "state": "alerting",
    "message": "**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\n",
}

# Sentry's metric alert webhook (Sentry-Hook-Resource: metric_alert), from Sentry's docs.
SENTRY_METRIC_ALERT: dict[str, Any] = {
    "action": "resolved",
    "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
    "data": {
        "description_text": "1000 events in the last 10 minutes\\nFilter: level:error",
        "description_title": "Resolved: Too many errors",
        "metric_alert": {
            "alert_rule": {
                "aggregate": "count()",
                "created_by": None,
                "dataset": "events",
                "date_created": "2020-09-13T12:26:40.000000Z",
                "date_modified": "2020-09-13T12:26:40.000000Z",
                "environment": None,
                "id": "7",
                "include_all_projects": False,
                "name": "Too many errors",
                "organization_id": "5",
                "projects": ["bar"],
                "query": "level:error",
                "resolution": 1,
                "resolve_threshold": None,
                "status": 0,
                "threshold_period": 1,
                "threshold_type": 0,
                "time_window": 10,
                "triggers": [],
            },
            "date_closed": None,
            "date_created": "2020-09-13T12:26:40.000000Z",
            "date_detected": "2020-09-13T12:26:40.000000Z",
            "date_started": "2020-09-13T12:26:40.000000Z",
            "id": "4",
            "identifier": "1",
            "organization_id": "5",
            "projects": ["bar"],
            "status": 2,
            "status_method": 3,
            "title": "Sacred Marmot",
            "type": 2,
        },
        "web_url": "https://sentry.io/organizations/baz/alerts/1/",
    },
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
}

# Sentry's issue alert webhook (Sentry-Hook-Resource: event_alert), abridged to the
# fields a mapping reads; the rest of Sentry's event is kept as it comes.
SENTRY_ISSUE_ALERT: dict[str, Any] = {
    "action": "triggered",
    "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
    "data": {
        "event": {
            "event_id": "e4874d664c3540c1a32eab185f12c5ab",
            "issue_id": "1117540176",
            "issue_url": "https://sentry.io/api/0/issues/1117540176/",
            "level": "error",
            "platform": "javascript",
            "project": 1,
            "title": "ReferenceError: heck is not defined",
            "datetime": "2019-08-19T21:06:17.677000Z",
            "tags": [["browser", "Chrome 75.0.3770"], ["level", "error"]],
            "web_url": "https://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/",
        },
        "triggered_rule": "Very Important Alert Rule!",
        "issue_alert": {
            "title": "Very Important Alert Rule!",
            "settings": [{"name": "channel", "value": "#general"}],
        },
    },
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
}

# The mapping docs/alerts.md gives for Sentry: issue and metric alerts through one URL.
SENTRY_MAPPING = """\
    - name: sentry
      token: sentry-token-456
      labels:
        alertname: '{{ data.triggered_rule or data.metric_alert.alert_rule.name }}'
        level: '{{ data.event.level or ("critical" if action == "critical" else "warning") }}'
        project: '{{ data.event.project or data.metric_alert.projects[0] }}'
        source: sentry
      annotations:
        summary: '{{ data.event.title or data.description_title }}'
        description: '{{ data.description_text }}'
      resolved: '{{ action == "resolved" }}'
      dedup_key: '{{ data.event.issue_id or ("metric-" ~ data.metric_alert.alert_rule.id) }}'
      generator_url: '{{ data.event.web_url or data.web_url }}'
"""
