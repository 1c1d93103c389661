"""Real Opsbook server processes for the multi-process tests (``opsbook serve``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from notify.servers import free_port

START_TIMEOUT = 60.0  # a loaded two-core machine starts Python slowly


class ServerProcess:
    def __init__(self, *, config: Path, database: str, log: Path) -> None:
        self.config = config
        self.database = database
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "OPSBOOK_LOG_LEVEL": "warning",
            "OPSBOOK_LOG_FORMAT": "json",
            "OPSBOOK_WORKER_POLL_INTERVAL": "200ms",
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "opsbook",
                    "serve",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--config",
                    str(self.config),
                    "--database",
                    self.database,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server was not ready in {START_TIMEOUT}s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def post_json(url: str, body: object) -> int:
    """POST ``body`` as JSON; the status, or an OSError when the server is gone."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def webhook_config(
    hook: str, *, name: str, group_wait: str, group_interval: str, routes: str = ""
) -> str:
    """An ``opsbook.yaml`` whose root route sends every alert to an alertmanager-webhook
    channel at ``hook``, grouped by alertname and service; ``routes`` is YAML for the
    root's child routes (indented as its keys are)."""
    return f"""\
service: {{name: {name}}}
channels:
  - {{name: am, kind: alertmanager-webhook, url: "{hook}"}}
alerts:
  alertmanager_api: {{public: true}}
  route:
    channels: [am]
    group_by: [alertname, service]
    group_wait: {group_wait}
    group_interval: {group_interval}
    repeat_interval: 4h
{routes}"""
