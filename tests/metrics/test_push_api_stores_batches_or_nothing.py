"""POST /api/v1/metrics: batches with labels and timestamps; a malformed one stores nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opsbook.metrics.models import MetricSample, MetricSeries
from opsbook.runtime import Runtime
from support import bearer


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.read_session() as session:
        series = session.scalar(select(func.count()).select_from(MetricSeries)) or 0
        samples = session.scalar(select(func.count()).select_from(MetricSample)) or 0
    return series, samples


def test_a_batch_is_stored_with_labels_and_timestamps(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    now = runtime.clock.now()
    batch = {
        "samples": [
            {"name": "http_requests_total", "labels": {"job": "api", "code": "200"}, "value": 10},
            {"name": "http_requests_total", "labels": {"job": "api", "code": "500"}, "value": 1.5},
            {
                "name": "queue_depth",
                "value": 7,
                "timestamp": (now - timedelta(minutes=2)).isoformat(),
            },
            {"name": "queue_depth", "value": 9, "timestamp": now.timestamp()},
        ]
    }
    response = client.post("/api/v1/metrics", json=batch, headers=bearer(tokens["responder"]))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "samples": 4, "series": 3}
    assert counts(runtime) == (3, 4)
    again = client.post("/api/v1/metrics", json=batch, headers=bearer(tokens["responder"]))
    assert again.json()["samples"] == 4
    assert counts(runtime)[0] == 3, "the same label set is the same series"


@pytest.mark.parametrize(
    ("sample", "status", "message"),
    [
        ({"name": "9bad", "value": 1}, 400, "metric name '9bad' must match"),
        ({"name": "ok", "labels": {"__x": "1"}, "value": 1}, 400, "label name '__x'"),
        ({"name": "ok", "labels": {"bad-name": "1"}, "value": 1}, 400, "label name 'bad-name'"),
        ({"name": "ok", "value": "12"}, 422, "value must be a JSON number"),
        ({"name": "ok", "value": True}, 422, "value must be a JSON number"),
        ({"name": "ok"}, 422, "samples.1.value"),
        ({"name": "ok", "value": 1, "timestamp": "2026-01-05T09:00:00"}, 422, "needs a zone"),
        (
            {"name": "ok", "value": 1, "timestamp": "2020-01-01T00:00:00Z"},
            400,
            "outside the accepted",
        ),
        ({"name": "ok", "value": 1, "extra": 1}, 422, "extra"),
        ({"name": "ok", "labels": {"a": 1}, "value": 1}, 422, "samples.1.labels.a"),
    ],
)
def test_a_malformed_sample_refuses_the_whole_batch(
    client: TestClient,
    tokens: dict[str, str],
    runtime: Runtime,
    sample: dict[str, Any],
    status: int,
    message: str,
) -> None:
    batch = {"samples": [{"name": "fine", "value": 1}, sample]}
    response = client.post("/api/v1/metrics", json=batch, headers=bearer(tokens["responder"]))
    assert response.status_code == status
    assert message in str(response.json()["message"])
    assert counts(runtime) == (0, 0), "nothing of the batch is stored"


def test_empty_oversized_and_non_json_batches_are_refused(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    headers = bearer(tokens["responder"])
    assert client.post("/api/v1/metrics", json={"samples": []}, headers=headers).status_code == 422
    huge = {"samples": [{"name": "x", "value": i} for i in range(10_001)]}
    assert client.post("/api/v1/metrics", json=huge, headers=headers).status_code == 422
    garbled = client.post(
        "/api/v1/metrics", content=b"up 1", headers={**headers, "Content-Type": "application/json"}
    )
    assert garbled.status_code == 422
    surrogate = client.post(
        "/api/v1/metrics",
        content=b'{"samples": [{"name": "x", "labels": {"a": "\\ud800"}, "value": 1}]}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400
    assert "not valid Unicode" in surrogate.json()["message"]
    assert counts(runtime) == (0, 0)


def test_pushing_needs_a_responder_token(client: TestClient, tokens: dict[str, str]) -> None:
    batch = {"samples": [{"name": "x", "value": 1}]}
    assert client.post("/api/v1/metrics", json=batch).status_code == 401
    viewer = client.post("/api/v1/metrics", json=batch, headers=bearer(tokens["viewer"]))
    assert viewer.status_code == 403
