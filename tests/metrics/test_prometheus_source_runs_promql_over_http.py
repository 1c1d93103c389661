"""A rule with ``source:`` runs its PromQL on a Prometheus: here a local server that answers
in the documented format of ``GET /api/v1/query``."""

from __future__ import annotations

from typing import Any

import pytest

from local_http import prometheus_vector as vector
from opsbook.metrics.prometheus import PrometheusError, parse_response


def test_the_documented_answers_parse() -> None:
    found = parse_response(
        200,
        vector(
            ({"__name__": "up", "job": "prometheus", "instance": "localhost:9090"}, "1"),
            ({"__name__": "up", "job": "node", "instance": "localhost:9100"}, "0"),
        ),
    )
    assert [(s.labels, s.value) for s in found] == [
        ({"job": "prometheus", "instance": "localhost:9090"}, 1.0),
        ({"job": "node", "instance": "localhost:9100"}, 0.0),
    ]
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1.5, "42"]}}
    assert [s.value for s in parse_response(200, scalar)] == [42.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"},
            "HTTP 400: bad_data: parse error at char 4",
        ),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "instant vector"),
        ({"hello": 1}, "not a Prometheus API answer"),
        (
            {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}},
            "a result without its value",
        ),
    ],
)
def test_errors_and_other_shapes_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(PrometheusError) as raised:
        parse_response(400, body)
    assert message in str(raised.value)
