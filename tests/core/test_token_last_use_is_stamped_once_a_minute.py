"""A token's last use is recorded, but at most once a minute: reads stay reads."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from opsbook.core.auth import list_tokens
from opsbook.runtime import Runtime
from support import bearer


def _last_used(runtime: Runtime) -> object:
    with runtime.db.read_session() as session:
        return {t.name: t.last_used_at for t in list_tokens(session)}["viewer-token"]


def test_last_use_is_stamped_on_first_use_and_then_once_a_minute(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    viewer = bearer(tokens["viewer"])
    assert _last_used(runtime) is None
    first = runtime.clock.now()
    assert client.get("/api/v1/whoami", headers=viewer).status_code == 200
    assert _last_used(runtime) == first
    runtime.clock.advance(timedelta(seconds=30))
    client.get("/api/v1/whoami", headers=viewer)
    assert _last_used(runtime) == first
    runtime.clock.advance(timedelta(seconds=31))
    client.get("/api/v1/whoami", headers=viewer)
    assert _last_used(runtime) == runtime.clock.now()
