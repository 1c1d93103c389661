"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from opsbook.demo.target import TargetServer

TEST_CONFIG = """\
service:
  name: Test Service
people:
  - {id: alice, name: Alice Admin, email: alice@example.com, role: admin}
  - {id: rita, name: Rita Responder, email: rita@example.com, role: responder}
  - {id: vic, name: Vic Viewer, email: vic@example.com, role: viewer}
teams:
  - {name: platform, members: [alice, rita], lead: alice}
channels:
  - {name: console, kind: console}
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def demo_target() -> Iterator[TargetServer]:
    """The demo's sample app on a free loopback port, for as long as the block runs."""
    server = TargetServer("127.0.0.1", 0)
    server.start_in_thread()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def set_demo_mode(target: TargetServer, mode: str) -> None:
    """Break or mend the sample app, as `curl -X POST -d mode=down .../_demo/mode` does."""
    request = urllib.request.Request(f"{target.url}/_demo/mode", data=f"mode={mode}".encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["mode"] == mode
