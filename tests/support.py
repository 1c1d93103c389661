"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

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
