"""GET /probe answers like blackbox_exporter, so Prometheus jobs scrape Opsbook unchanged."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsbook.demo.target import TargetServer
from opsbook.runtime import Runtime
from support import TEST_CONFIG, bearer


@pytest.fixture
def target() -> Iterator[TargetServer]:
    server = TargetServer("127.0.0.1", 0)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def _metrics(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_default_module_probes_http_and_reports_blackbox_metrics(
    client: TestClient, tokens: dict[str, str], target: TargetServer
) -> None:
    response = client.get(
        "/probe", params={"target": f"{target.url}/healthz.json"}, headers=bearer(tokens["viewer"])
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    metrics = _metrics(response.text)
    assert metrics["probe_success"] == 1
    assert metrics["probe_http_status_code"] == 200
    assert metrics["probe_http_version"] == 1.1
    assert metrics["probe_http_content_length"] == len(b'{"status": "ok"}')
    phases = {k for k in metrics if k.startswith("probe_http_duration_seconds")}
    assert phases == {
        f'probe_http_duration_seconds{{phase="{p}"}}'
        for p in ("resolve", "connect", "tls", "processing", "transfer")
    }
    assert 0 < metrics["probe_duration_seconds"] < 5
    assert "# TYPE probe_success gauge" in response.text


def test_a_failing_target_is_probe_success_zero(
    client: TestClient, tokens: dict[str, str], target: TargetServer
) -> None:
    target.state.set("down")
    response = client.get(
        "/probe",
        params={"target": f"{target.url}/healthz.json", "module": "http_2xx"},
        headers=bearer(tokens["viewer"]),
    )
    metrics = _metrics(response.text)
    assert (metrics["probe_success"], metrics["probe_http_status_code"]) == (0, 503)


def test_tcp_connect_succeeds_on_an_open_port_and_fails_on_a_closed_one(
    client: TestClient, tokens: dict[str, str], target: TargetServer
) -> None:
    host, port = target.server_address[:2]
    for address, expected in ((f"{host!s}:{port}", 1), (f"127.0.0.1:{_closed_port()}", 0)):
        response = client.get(
            "/probe",
            params={"target": address, "module": "tcp_connect"},
            headers=bearer(tokens["viewer"]),
        )
        assert _metrics(response.text)["probe_success"] == expected


def test_bad_requests_get_a_json_400(client: TestClient, tokens: dict[str, str]) -> None:
    viewer = bearer(tokens["viewer"])
    unknown = client.get("/probe", params={"target": "x:1", "module": "icmp"}, headers=viewer)
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("unknown module 'icmp' (known: ")
    no_port = client.get(
        "/probe", params={"target": "nope", "module": "tcp_connect"}, headers=viewer
    )
    assert no_port.json()["message"] == "target 'nope' must be host:port"
    no_target = client.get("/probe", headers=viewer)
    assert no_target.json()["message"] == "target parameter is missing"


def test_the_scrape_timeout_header_bounds_the_probe(
    client: TestClient, tokens: dict[str, str], target: TargetServer
) -> None:
    target.state.set("slow", delay_s=3)
    response = client.get(
        "/probe",
        params={"target": f"{target.url}/healthz.json"},
        headers={**bearer(tokens["viewer"]), "X-Prometheus-Scrape-Timeout-Seconds": "1"},
    )
    metrics = _metrics(response.text)
    assert metrics["probe_success"] == 0
    assert metrics["probe_duration_seconds"] < 1


def test_a_configured_check_can_be_probed_by_name(
    runtime: Runtime,
    config_file: Path,
    tokens: dict[str, str],
    target: TargetServer,
    client: TestClient,
) -> None:
    config_file.write_text(
        TEST_CONFIG
        + "checks:\n"
        + "  - name: api-health\n"
        + f"    http: {{url: '{target.url}/api/health'}}\n"
        + "    conditions: ['body.services.database == \"healthy\"']\n"
    )
    runtime.reload_config()
    target.state.set("degraded")
    response = client.get(
        "/probe", params={"module": "check:api-health"}, headers=bearer(tokens["viewer"])
    )
    assert _metrics(response.text)["probe_success"] == 0
    target.state.set("ok")
    response = client.get(
        "/probe", params={"module": "check:api-health"}, headers=bearer(tokens["viewer"])
    )
    assert _metrics(response.text)["probe_success"] == 1


def test_probe_needs_a_token_unless_made_public(
    runtime: Runtime, config_file: Path, client: TestClient, target: TargetServer
) -> None:
    params = {"target": f"{target.url}/healthz.json"}
    assert client.get("/probe", params=params).status_code == 401
    config_file.write_text(TEST_CONFIG + "settings:\n  probe:\n    public: true\n")
    runtime.reload_config()
    assert _metrics(client.get("/probe", params=params).text)["probe_success"] == 1
