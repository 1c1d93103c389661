"""POST/GET /api/v2/alerts as Prometheus and amtool use them, exactly.

The fixture is what Prometheus' notifier posts (labels, annotations, startsAt, endsAt
set to its ValidUntil, generatorURL); the answer is Alertmanager's: 200 with no body.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from alerts.pipeline import ALERTS_CONFIG, Pipeline
from opsbook.alerts.labels import fingerprint, rfc3339
from opsbook.app import create_app
from support import bearer

PROMETHEUS_POST = [
    {
        "labels": {
            "alertname": "HighErrorRate",
            "instance": "api-1:9100",
            "job": "api",
            "service": "checkout",
            "severity": "critical",
        },
        "annotations": {
            "summary": "Error rate above 5% for 5 minutes",
            "description": "5xx ratio is 7.3% on api-1:9100",
        },
        "startsAt": "2026-01-05T08:55:00.123456789Z",
        "endsAt": "2026-01-05T09:04:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=job%3Aerrors%3Aratio5m+%3E+0.05",
    }
]


def _post(client: TestClient, body: object, token: str | None) -> object:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return client.post("/api/v2/alerts", json=body, headers=headers)


def test_prometheus_posts_and_gets_alertmanagers_answer(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    response = alerts_client.post(
        "/api/v2/alerts", json=PROMETHEUS_POST, headers=bearer(alert_tokens["responder"])
    )
    assert response.status_code == 200
    assert response.content == b""
    [stored] = pipeline.alerts()
    assert stored.labels == PROMETHEUS_POST[0]["labels"]
    assert stored.source == "alertmanager"
    assert rfc3339(stored.ends_at) == "2026-01-05T09:04:00Z"

    listed = alerts_client.get("/api/v2/alerts", headers=bearer(alert_tokens["viewer"])).json()
    assert listed == [
        {
            "annotations": PROMETHEUS_POST[0]["annotations"],
            "endsAt": "2026-01-05T09:04:00.000Z",
            "fingerprint": fingerprint(PROMETHEUS_POST[0]["labels"]),
            "receivers": [{"name": "am"}],
            "startsAt": "2026-01-05T08:55:00.123Z",
            "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
            "updatedAt": "2026-01-05T09:00:00.000Z",
            "generatorURL": PROMETHEUS_POST[0]["generatorURL"],
            "labels": PROMETHEUS_POST[0]["labels"],
        }
    ]


def test_a_repeat_refreshes_the_alert_instead_of_adding_one(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    token = bearer(alert_tokens["responder"])
    alerts_client.post("/api/v2/alerts", json=PROMETHEUS_POST, headers=token)
    again = [{**PROMETHEUS_POST[0], "endsAt": "2026-01-05T09:08:00Z"}]
    pipeline.clock.advance(timedelta(minutes=1))
    assert alerts_client.post("/api/v2/alerts", json=again, headers=token).status_code == 200
    [stored] = pipeline.alerts()
    assert stored.refreshes == 1
    assert rfc3339(stored.ends_at) == "2026-01-05T09:08:00Z"


def test_without_endsat_an_alert_resolves_after_resolve_timeout(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    body = [{"labels": {"alertname": "DiskFull", "instance": "db-1"}}]
    alerts_client.post("/api/v2/alerts", json=body, headers=bearer(alert_tokens["responder"]))
    [stored] = pipeline.alerts()
    assert stored.starts_at == pipeline.clock.now()
    assert stored.ends_at == pipeline.clock.now() + timedelta(minutes=5)
    assert [v.status for v in pipeline.views()] == ["firing"]
    pipeline.advance(5 * 60 + 11)  # past endsAt and past the next sweep
    assert [v.status for v in pipeline.views("all")] == ["resolved"]
    assert pipeline.alerts()[0].resolved_at is not None


def test_an_endsat_in_the_past_resolves_the_open_alert(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    token = bearer(alert_tokens["responder"])
    alerts_client.post("/api/v2/alerts", json=PROMETHEUS_POST, headers=token)
    resolved = [{**PROMETHEUS_POST[0], "endsAt": "2026-01-05T08:59:00Z"}]
    assert alerts_client.post("/api/v2/alerts", json=resolved, headers=token).status_code == 200
    [stored] = pipeline.alerts()
    assert rfc3339(stored.ends_at) == "2026-01-05T08:59:00Z"
    assert stored.resolved_at == pipeline.clock.now()
    assert alerts_client.get("/api/v2/alerts", headers=token).json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"labels": {"a": "b"}}, "must be a JSON array"),
        ([{"annotations": {"x": "y"}}], "alerts[0]: labels: required"),
        ([{"labels": {"alertname": ""}}], "alerts[0]: at least one label pair required"),
        ([{"labels": {"1bad": "x"}}], "alerts[0]: labels: invalid name '1bad'"),
        ([{"labels": {"a": 1}}], "alerts[0]: labels: the value of 'a' must be a string"),
        ([{"labels": {"a": "b"}, "annotations": {"bad-name": "x"}}], "annotations: invalid name"),
        (
            [
                {
                    "labels": {"a": "b"},
                    "startsAt": "2026-01-05T09:00:00Z",
                    "endsAt": "2026-01-05T08:00:00Z",
                }
            ],
            "start time must be before end time",
        ),
        ([{"labels": {"a": "b"}, "startsAt": "noon"}], "startsAt is not an RFC 3339 time"),
        ([{"labels": {"a": "b"}, "generatorURL": 5}], "generatorURL: must be a string"),
        ([{"labels": {"a": "b"}}, "not an alert"], "alerts[1]: an alert must be a JSON object"),
    ],
)
def test_a_malformed_batch_gets_400_and_nothing_is_stored(
    alerts_client: TestClient,
    alert_tokens: dict[str, str],
    pipeline: Pipeline,
    body: object,
    message: str,
) -> None:
    response = alerts_client.post(
        "/api/v2/alerts", json=body, headers=bearer(alert_tokens["responder"])
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert message in response.json()["message"]
    assert pipeline.alerts() == []


def test_a_body_that_is_not_json_gets_400(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    response = alerts_client.post(
        "/api/v2/alerts", content=b"[{", headers=bearer(alert_tokens["responder"])
    )
    assert response.status_code == 400
    assert "not JSON" in response.json()["message"]
    assert pipeline.alerts() == []


def test_posting_needs_a_responder_token_as_bearer_or_basic_password(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    body = [{"labels": {"alertname": "X"}}]
    anonymous = alerts_client.post("/api/v2/alerts", json=body)
    assert anonymous.status_code == 401
    assert "Bearer" in anonymous.headers["www-authenticate"]
    assert (
        alerts_client.post("/api/v2/alerts", json=body, headers=bearer("obk_wrong")).status_code
        == 401
    )
    viewer = alerts_client.post("/api/v2/alerts", json=body, headers=bearer(alert_tokens["viewer"]))
    assert viewer.status_code == 403
    assert pipeline.alerts() == []
    basic = base64.b64encode(f"prometheus:{alert_tokens['responder']}".encode()).decode()
    response = alerts_client.post(
        "/api/v2/alerts", json=body, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    assert len(pipeline.alerts()) == 1
    assert alerts_client.get("/api/v2/alerts").status_code == 401


def test_public_api_on_a_trusted_network_needs_no_token(pipeline: Pipeline) -> None:
    pipeline.reconfigure(
        ALERTS_CONFIG.replace("alerts:\n", "alerts:\n  alertmanager_api: {public: true}\n")
    )
    with TestClient(create_app(runtime=pipeline.runtime), base_url="http://127.0.0.1") as client:
        assert client.post("/api/v2/alerts", json=[{"labels": {"a": "b"}}]).status_code == 200
        assert len(client.get("/api/v2/alerts").json()) == 1


def test_get_filters_like_alertmanager(
    alerts_client: TestClient, alert_tokens: dict[str, str]
) -> None:
    token = bearer(alert_tokens["responder"])
    body = [
        {"labels": {"alertname": "A", "service": "api"}},
        {"labels": {"alertname": "B", "service": "web"}},
    ]
    alerts_client.post("/api/v2/alerts", json=body, headers=token)
    got = alerts_client.get("/api/v2/alerts", params={"filter": 'service=~"we.*"'}, headers=token)
    assert [a["labels"]["alertname"] for a in got.json()] == ["B"]
    got = alerts_client.get("/api/v2/alerts", params={"receiver": "nobody"}, headers=token)
    assert got.json() == []
    assert (
        alerts_client.get("/api/v2/alerts", params={"filter": "bad"}, headers=token).status_code
        == 400
    )
    assert (
        alerts_client.get("/api/v2/alerts", params={"active": "maybe"}, headers=token).status_code
        == 400
    )


def test_alert_groups_list_each_group_per_receiver_as_alertmanager_does(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    pipeline.reconfigure(
        ALERTS_CONFIG.replace("    channels: [am]\n", "    channels: [am, console]\n")
    )
    token = bearer(alert_tokens["responder"])
    body = [
        {"labels": {"alertname": "Down", "service": "api", "instance": "b"}},
        {"labels": {"alertname": "Down", "service": "api", "instance": "a"}},
        {"labels": {"alertname": "Down", "service": "web", "instance": "c"}},
    ]
    now = pipeline.clock.now()
    with TestClient(create_app(runtime=pipeline.runtime), base_url="http://127.0.0.1") as client:
        assert client.get("/api/v2/alerts/groups").status_code == 401
        assert client.post("/api/v2/alerts", json=body, headers=token).status_code == 200
        silence = {
            "matchers": [{"name": "service", "value": "web", "isRegex": False, "isEqual": True}],
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(now + timedelta(hours=1)),
            "createdBy": "rita",
            "comment": "maintenance",
        }
        assert client.post("/api/v2/silences", json=silence, headers=token).status_code == 200
        groups = client.get("/api/v2/alerts/groups", headers=bearer(alert_tokens["viewer"]))
        unsilenced = client.get(
            "/api/v2/alerts/groups", params={"silenced": "false"}, headers=token
        ).json()
        to_am = client.get(
            "/api/v2/alerts/groups",
            params={"receiver": "a.", "filter": "service=api"},
            headers=token,
        ).json()
        bad = client.get("/api/v2/alerts/groups", params={"filter": "bad"}, headers=token)

    assert groups.status_code == 200
    listed = [
        (g["labels"], g["receiver"]["name"], [a["labels"]["instance"] for a in g["alerts"]])
        for g in groups.json()
    ]
    api, web = {"alertname": "Down", "service": "api"}, {"alertname": "Down", "service": "web"}
    by_fingerprint = sorted(["a", "b"], key=lambda i: fingerprint({**api, "instance": i}))
    assert listed == [
        (api, "am", by_fingerprint),
        (api, "console", by_fingerprint),
        (web, "am", ["c"]),
        (web, "console", ["c"]),
    ]
    first = groups.json()[0]["alerts"][0]
    assert set(first) == {
        "annotations", "endsAt", "fingerprint", "receivers", "startsAt", "status",
        "updatedAt", "generatorURL", "labels",
    }  # fmt: skip
    assert groups.json()[2]["alerts"][0]["status"]["state"] == "suppressed"
    # silenced=false drops the silenced alert, and with it the groups it was alone in.
    assert [(g["labels"], g["receiver"]["name"]) for g in unsilenced] == [
        (api, "am"),
        (api, "console"),
    ]
    assert [(g["labels"], g["receiver"]["name"]) for g in to_am] == [(api, "am")]
    assert bad.status_code == 400
