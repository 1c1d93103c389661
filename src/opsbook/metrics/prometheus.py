"""The ``prometheus`` source: a PromQL query evaluated by the user's Prometheus over HTTP.

``GET {url}/api/v1/query?query=...&time=<unix seconds>``, answered (per the Prometheus
HTTP API documentation) with ``{"status": "success", "data": {"resultType": "vector",
"result": [{"metric": {...}, "value": [<unix time>, "<value>"]}]}}``, or ``"scalar"``
with ``"result": [<unix time>, "<value>"]``; failures carry ``"status": "error"`` with
``errorType`` and ``error``.  Queries of one evaluation round run concurrently, each
bounded by its source's ``timeout``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from opsbook import __version__
from opsbook.metrics.config import PrometheusSourceConfig
from opsbook.metrics.query import SeriesValue


class PrometheusError(Exception):
    """The query did not give a vector: unreachable, refused, or not the documented format."""


@dataclass(frozen=True, slots=True)
class PromQuery:
    source: PrometheusSourceConfig
    query: str


def _headers(source: PrometheusSourceConfig) -> dict[str, str]:
    headers = {"User-Agent": f"Opsbook/{__version__}", "Accept": "application/json"}
    headers.update(source.headers)
    if source.bearer_token is not None:
        headers["Authorization"] = f"Bearer {source.bearer_token.get_secret_value()}"
    return headers


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise PrometheusError(f"sample value {raw!r} is not a number") from None


def parse_response(status_code: int, body: Any) -> list[SeriesValue]:
    """The series of an instant query's answer; raise :class:`PrometheusError` otherwise."""
    if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
        raise PrometheusError(f"HTTP {status_code}: not a Prometheus API answer")
    if body["status"] == "error":
        raise PrometheusError(
            f"HTTP {status_code}: {body.get('errorType', 'error')}: {body.get('error', '')}"
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusError("the answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [SeriesValue({}, _number(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        raise PrometheusError(f"expected an instant vector, got resultType {kind!r}")
    found = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("value"), list):
            raise PrometheusError("a result without its value")
        metric = item.get("metric") or {}
        labels = {str(k): str(v) for k, v in metric.items() if k != "__name__"}
        value = _number(item["value"][1])
        if not math.isnan(value):
            found.append(SeriesValue(labels, value))
    return found


async def _one(client: httpx.AsyncClient, request: PromQuery, at: datetime) -> list[SeriesValue]:
    source = request.source
    url = source.url.rstrip("/") + "/api/v1/query"
    params = {"query": request.query, "time": f"{at.timestamp():.3f}"}
    try:
        response = await client.get(
            url, params=params, headers=_headers(source), timeout=source.timeout.total_seconds()
        )
    except httpx.HTTPError as exc:
        raise PrometheusError(f"{source.name}: {type(exc).__name__}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(f"{source.name}: HTTP {response.status_code}, not JSON") from None
    try:
        return parse_response(response.status_code, body)
    except PrometheusError as exc:
        raise PrometheusError(f"{source.name}: {exc}") from None


async def _all(
    requests: Sequence[PromQuery], at: datetime
) -> list[list[SeriesValue] | BaseException]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await asyncio.gather(
            *(_one(client, r, at) for r in requests), return_exceptions=True
        )


def run_queries(
    requests: Sequence[PromQuery], *, at: datetime
) -> list[list[SeriesValue] | PrometheusError]:
    """Run ``requests`` concurrently from synchronous code (a job handler's thread)."""
    if not requests:
        return []
    outcomes = asyncio.run(_all(requests, at))
    results: list[list[SeriesValue] | PrometheusError] = []
    for outcome in outcomes:
        if isinstance(outcome, PrometheusError):
            results.append(outcome)
        elif isinstance(outcome, BaseException):
            results.append(PrometheusError(f"{type(outcome).__name__}: {outcome}"))
        else:
            results.append(outcome)
    return results
