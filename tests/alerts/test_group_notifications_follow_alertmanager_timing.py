"""Notification groups flush when Alertmanager's would: group_wait, group_interval beats,
repeat_interval, resolved notices, max_alerts; with its webhook payload, field for field."""

from __future__ import annotations

from datetime import timedelta

from alerts.pipeline import ALERTS_CONFIG, Pipeline, alertnames
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.labels import fingerprint, rfc3339


def test_a_new_group_waits_group_wait_then_sends_alertmanagers_payload(pipeline: Pipeline) -> None:
    started = pipeline.clock.now()
    labels = {"alertname": "HighErrorRate", "service": "checkout", "instance": "api-1"}
    pipeline.send(
        AlertInput(
            labels=labels,
            annotations={"summary": "5xx above 5%"},
            generator_url="http://prometheus/graph",
            source="test",
        )
    )
    pipeline.advance(29)
    assert pipeline.notifications() == []
    pipeline.advance(1)
    [sent] = pipeline.notifications("am")
    assert sent == {
        "receiver": "am",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighErrorRate",
                    "instance": "api-1",
                    "service": "checkout",
                },
                "annotations": {"summary": "5xx above 5%"},
                "startsAt": rfc3339(started),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph",
                "fingerprint": fingerprint(labels),
            }
        ],
        "groupLabels": {"alertname": "HighErrorRate", "service": "checkout"},
        "commonLabels": {"alertname": "HighErrorRate", "instance": "api-1", "service": "checkout"},
        "commonAnnotations": {"summary": "5xx above 5%"},
        "externalURL": "http://127.0.0.1:8080",
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate", service="checkout"}',
        "truncatedAlerts": 0,
    }
    assert list(sent) == list(sent)  # keys in Alertmanager's order (checked above)
    assert pipeline.notification_keys() == ["alerts:1:1:am"]


def test_later_alerts_wait_for_the_next_group_interval_beat(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.advance(30)  # first notification at t+30s
    pipeline.advance(30)
    pipeline.fire(alertname="Down", service="api", instance="b")
    pipeline.advance(60)
    assert len(pipeline.notifications()) == 1
    pipeline.advance(209)  # t+5m29s
    assert len(pipeline.notifications()) == 1
    pipeline.advance(1)  # t+30s+5m: the beat
    second = pipeline.notifications()[1]
    assert alertnames(second) == ["a", "b"]
    assert second["commonLabels"] == {"alertname": "Down", "service": "api"}


def test_nothing_new_is_sent_again_only_after_repeat_interval(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.advance(30)
    for _ in range(47):  # nearly four hours of five-minute beats
        pipeline.advance(5 * 60)
        pipeline.fire(alertname="Down", service="api", instance="a")  # Prometheus re-sends
    assert len(pipeline.notifications()) == 1
    pipeline.advance(5 * 60)  # 4h after the first notification, on a beat
    assert len(pipeline.notifications()) == 2
    assert alertnames(pipeline.notifications()[1]) == ["a"]


def test_resolutions_are_announced_and_an_emptied_group_starts_over(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.fire(alertname="Down", service="api", instance="b")
    pipeline.advance(30)
    pipeline.resolve(alertname="Down", service="api", instance="a")
    pipeline.advance(5 * 60)
    partly = pipeline.notifications()[-1]
    assert partly["status"] == "firing"
    assert [(a["labels"]["instance"], a["status"]) for a in partly["alerts"]] == [
        ("a", "resolved"),
        ("b", "firing"),
    ]
    assert partly["alerts"][0]["endsAt"] == rfc3339(pipeline.clock.now() - timedelta(minutes=5))
    pipeline.resolve(alertname="Down", service="api", instance="b")
    pipeline.advance(5 * 60)
    cleared = pipeline.notifications()[-1]
    assert cleared["status"] == "resolved"
    assert [a["status"] for a in cleared["alerts"]] == ["resolved"]
    count = len(pipeline.notifications())
    pipeline.advance(3600)
    assert len(pipeline.notifications()) == count  # nothing more to say
    pipeline.fire(alertname="Down", service="api", instance="c")
    pipeline.advance(29)
    assert len(pipeline.notifications()) == count
    pipeline.advance(1)  # a group that emptied waits group_wait again
    assert alertnames(pipeline.notifications()[-1]) == ["c"]


def test_groups_are_independent(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api")
    pipeline.advance(10)
    pipeline.fire(alertname="Down", service="web")
    pipeline.advance(20)
    assert [n["groupLabels"]["service"] for n in pipeline.notifications()] == ["api"]
    pipeline.advance(10)
    assert [n["groupLabels"]["service"] for n in pipeline.notifications()] == ["api", "web"]


def test_an_alert_older_than_group_wait_is_sent_at_once(pipeline: Pipeline) -> None:
    pipeline.send(
        AlertInput(
            labels={"alertname": "Old", "service": "api"},
            starts_at=pipeline.clock.now() - timedelta(minutes=10),
            source="test",
        )
    )
    pipeline.run_jobs()
    assert len(pipeline.notifications()) == 1


def test_max_alerts_truncates_and_counts_and_send_resolved_false_stays_quiet(
    pipeline: Pipeline,
) -> None:
    pipeline.reconfigure(
        ALERTS_CONFIG.replace(
            "    url: http://127.0.0.1:9/hook\n",
            "    url: http://127.0.0.1:9/hook\n    max_alerts: 2\n    send_resolved: false\n",
        )
    )
    for instance in "edcba":
        pipeline.fire(alertname="Down", service="api", instance=instance)
    pipeline.advance(30)
    [sent] = pipeline.notifications()
    assert alertnames(sent) == ["a", "b"]  # the first two in Alertmanager's order
    assert sent["truncatedAlerts"] == 3
    for instance in "abcde":
        pipeline.resolve(alertname="Down", service="api", instance=instance)
    pipeline.advance(5 * 60)
    assert len(pipeline.notifications()) == 1  # only resolutions: not for this receiver


def test_a_route_that_notifies_nobody_records_alerts_only(pipeline: Pipeline) -> None:
    pipeline.reconfigure(ALERTS_CONFIG.replace("    channels: [am]\n", ""))
    pipeline.fire(alertname="Down", service="api")
    pipeline.advance(3600)
    assert pipeline.notifications() == []
    assert [v.labels["alertname"] for v in pipeline.views()] == ["Down"]
