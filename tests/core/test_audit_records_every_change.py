"""Every mutating API call leaves an audit row: who, what, when, from where."""

from __future__ import annotations

from fastapi.testclient import TestClient

from opsbook.core.audit import recent
from opsbook.runtime import Runtime
from support import bearer


def test_a_mutating_call_is_audited_with_actor_and_outcome(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    client.post(
        "/api/v1/tokens",
        json={"name": "grafana", "role": "viewer"},
        headers=bearer(tokens["admin"]),
    )
    with runtime.db.session() as session:
        [entry] = recent(session)
        assert entry.actor == "token:admin-token"
        assert entry.action == "POST /api/v1/tokens"
        assert entry.status_code == 201
        assert entry.remote_addr == "testclient"
        assert entry.at == runtime.clock.now()


def test_refused_calls_are_audited_too(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    client.delete("/api/v1/tokens/admin-token")
    client.delete("/api/v1/tokens/admin-token", headers=bearer(tokens["viewer"]))
    with runtime.db.session() as session:
        entries = [(e.actor, e.status_code) for e in recent(session)]
    assert entries == [("token:viewer-token", 403), ("anonymous", 401)]


def test_reads_are_not_audited(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    client.get("/api/v1/jobs", headers=bearer(tokens["viewer"]))
    with runtime.db.session() as session:
        assert recent(session) == []


def test_the_audit_log_is_readable_by_admins_only(
    client: TestClient, tokens: dict[str, str]
) -> None:
    client.post(
        "/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=bearer(tokens["admin"])
    )
    assert client.get("/api/v1/audit", headers=bearer(tokens["responder"])).status_code == 403
    entries = client.get("/api/v1/audit", headers=bearer(tokens["admin"])).json()
    assert [e["action"] for e in entries] == ["POST /api/v1/tokens"]
