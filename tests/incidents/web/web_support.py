"""Logging in through the form and posting the pages' forms, as a browser would."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

from opsbook.core import auth
from opsbook.runtime import Runtime

PASSWORD = "correct horse battery"


def log_in(client: TestClient, runtime: Runtime, person: str) -> str:
    """Log ``person`` in; returns the session's CSRF token, as the pages carry it."""
    with runtime.db.session() as session, session.begin():
        auth.set_password(session, person_id=person, password=PASSWORD, now=runtime.clock.now())
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert login_csrf is not None
    response = client.post(
        "/login",
        data={"username": person, "password": PASSWORD, "csrf_token": login_csrf.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/incidents").text)
    assert found is not None
    return found.group(1)


def post_form(client: TestClient, path: str, csrf: str, **fields: str | int) -> Response:
    return client.post(
        path,
        data={"csrf_token": csrf, **{k: str(v) for k, v in fields.items()}},
        follow_redirects=False,
    )
