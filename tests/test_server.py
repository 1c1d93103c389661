"""`opsbook serve` and `opsbook worker` as real processes: start, answer, drain on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import TEST_CONFIG

OPSBOOK = [sys.executable, "-m", "opsbook"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    config = tmp_path / "opsbook.yaml"
    config.write_text(TEST_CONFIG)
    return {
        **os.environ,
        "OPSBOOK_DATABASE_URL": database_url,
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_LOG_FORMAT": "json",
        "OPSBOOK_WORKER_HEARTBEAT_INTERVAL": "200ms",
        "OPSBOOK_WORKER_POLL_INTERVAL": "100ms",
    }


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early: {proc.communicate()[1]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: dict[str, object] = json.loads(response.read())
                return body
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"{url} never became ready")


def test_serve_migrates_answers_ready_and_drains_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*OPSBOOK, "serve", "--listen", f"127.0.0.1:{port}"],
        env=_env(tmp_path, f"sqlite:///{tmp_path / 'opsbook.db'}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = _wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
        assert body["services"] == {"database": "ok", "worker": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        _stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert events.index("shutdown.requested") < events.index("worker.stopped")
    assert events[-1] == "serve.stopped"


def test_a_worker_process_drains_on_sigterm(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'opsbook.db'}"
    proc = subprocess.Popen(
        [*OPSBOOK, "worker"],
        env=_env(tmp_path, database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    started = False
    assert proc.stderr is not None
    while time.monotonic() < deadline and not started:
        line = proc.stderr.readline()
        started = '"worker.started"' in line
    assert started
    proc.send_signal(signal.SIGTERM)
    _stdout, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert '"worker.stopped"' in rest


def test_serve_refuses_an_invalid_config_with_located_errors(tmp_path: Path) -> None:
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'opsbook.db'}")
    Path(env["OPSBOOK_CONFIG"]).write_text("service:\n  nmae: Oops\n")
    result = subprocess.run(
        [*OPSBOOK, "serve", "--listen", f"127.0.0.1:{_free_port()}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "opsbook.yaml:2:3: service.nmae" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "opsbook.db").exists()


def test_serve_runs_the_checks_and_an_outage_shows_as_a_failing_check(tmp_path: Path) -> None:
    from opsbook.demo.target import TargetServer

    target = TargetServer("127.0.0.1", 0)
    target.start_in_thread()
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'opsbook.db'}")
    Path(env["OPSBOOK_CONFIG"]).write_text(
        TEST_CONFIG
        + "checks:\n"
        + "  - name: healthz\n"
        + f"    http: {{url: '{target.url}/healthz.json'}}\n"
        + "    every: 1s\n"
        + "    timeout: 500ms\n"
        + "    conditions: ['body.status == \"ok\"']\n"
    )
    created = subprocess.run(
        [*OPSBOOK, "token", "create", "--name", "t", "--role", "viewer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    port = _free_port()
    proc = subprocess.Popen(
        [*OPSBOOK, "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def healthz_check() -> dict[str, object]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/checks/healthz", headers=headers
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body: dict[str, object] = json.loads(response.read())
            return body

    def wait_for(status: str) -> dict[str, object]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            check = healthz_check()
            if check["status"] == status:
                return check
            time.sleep(0.2)
        pytest.fail(f"the check never became {status}: {check}")

    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
        assert wait_for("up")["last_ok"] is True
        target.state.set("down")
        down = wait_for("down")
        assert down["last_reason"] == {
            "code": "status",
            "message": "expected status >= 200 and status <= 299, got 503",
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        target.shutdown()
        target.server_close()
    assert proc.returncode == 0
