"""Security: no route but the declared public ones answers without credentials."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from opsbook.core.security import PUBLIC_PATHS, PUBLIC_PREFIXES
from support import bearer


def _flat_routes(client: TestClient) -> list[Any]:
    routes = client.app.routes  # type: ignore[attr-defined]
    # FastAPI >= 0.16x keeps included routers lazily; iter_route_contexts flattens them.
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(iter_contexts(routes)) if iter_contexts else list(routes)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in _flat_routes(client):
        if isinstance(getattr(route, "original_route", route), Mount) or route.path is None:
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            # Fill path parameters with something plausible.
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found.append((method, path))
    return found


def test_the_walk_covers_the_platform_routes(client: TestClient) -> None:
    paths = {path for _method, path in _routes(client)}
    assert {"/api/v1/jobs", "/api/v1/tokens", "/metrics", "/", "/healthz"} <= paths


def test_no_private_route_answers_anonymous_callers(client: TestClient) -> None:
    leaks = []
    for method, path in _routes(client):
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            continue
        response = client.request(method, path, follow_redirects=False)
        denied = response.status_code in (401, 403) or (
            response.status_code == 303 and response.headers["location"].startswith("/login")
        )
        if not denied:
            leaks.append((method, path, response.status_code))
    assert leaks == []


def test_an_invalid_token_is_refused_with_json(client: TestClient) -> None:
    response = client.get("/api/v1/jobs", headers=bearer("obk_not-a-real-token"))
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "error": "unauthorized",
        "message": "invalid or revoked token",
    }
    assert response.headers["www-authenticate"] == "Bearer"


def test_anonymous_api_calls_get_a_json_401(client: TestClient) -> None:
    response = client.get("/api/v1/whoami")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("responder", 403), ("admin", 201)],
)
def test_roles_are_enforced(
    client: TestClient, tokens: dict[str, str], role: str, expected: int
) -> None:
    response = client.post(
        "/api/v1/tokens",
        json={"name": f"made-by-{role}", "role": "viewer"},
        headers=bearer(tokens[role]),
    )
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["message"] == f"this needs the admin role; you have {role}"


def test_a_revoked_token_stops_working(client: TestClient, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    assert client.get("/api/v1/whoami", headers=bearer(tokens["viewer"])).status_code == 200
    assert client.delete("/api/v1/tokens/viewer-token", headers=admin).status_code == 200
    assert client.get("/api/v1/whoami", headers=bearer(tokens["viewer"])).status_code == 401


def test_a_created_token_is_shown_once_and_stored_hashed(
    client: TestClient, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    created = client.post("/api/v1/tokens", json={"name": "ci", "role": "responder"}, headers=admin)
    raw = created.json()["token"]
    assert raw.startswith("obk_")
    listing = client.get("/api/v1/tokens", headers=admin).text
    assert raw not in listing
    assert client.get("/api/v1/whoami", headers=bearer(raw)).json() == {
        "kind": "token",
        "name": "ci",
        "role": "responder",
        "person_id": None,
    }
