"""Web login: argon2 passwords, session cookies, CSRF on every state change."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from opsbook.core import auth
from opsbook.core.models import UserCredential
from opsbook.runtime import Runtime


def _set_password(runtime: Runtime, person: str, password: str) -> None:
    with runtime.db.session() as session, session.begin():
        auth.set_password(session, person_id=person, password=password, now=runtime.clock.now())


def _login(client: TestClient, username: str, password: str, next_path: str = "/") -> int:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf.group(1),
            "next": next_path,
        },
        follow_redirects=False,
    )
    return response.status_code


def _page_csrf(client: TestClient) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text)
    assert found is not None
    return found.group(1)


def test_a_person_logs_in_and_sees_the_dashboard(client: TestClient, runtime: Runtime) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    assert _login(client, "rita", "correct horse battery") == 303
    page = client.get("/")
    assert page.status_code == 200
    assert "Test Service" in page.text
    assert "Rita Responder" in page.text  # the loaded config is shown
    assert "rita (responder)" in page.text


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, runtime: Runtime
) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    for username, password in (("rita", "wrong password"), ("nobody", "correct horse battery")):
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert response.status_code == 401
        assert "Wrong person id or password." in response.text
    assert "opsbook_session" not in client.cookies


def test_login_without_the_forms_csrf_token_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    response = client.post(
        "/login",
        data={"username": "rita", "password": "correct horse battery", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "opsbook_session" not in client.cookies


def test_login_never_redirects_off_site(client: TestClient, runtime: Runtime) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(
        "/login",
        data={
            "username": "rita",
            "password": "correct horse battery",
            "csrf_token": csrf.group(1),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_a_session_change_needs_the_csrf_token(client: TestClient, runtime: Runtime) -> None:
    _set_password(runtime, "alice", "correct horse battery")
    assert _login(client, "alice", "correct horse battery") == 303
    body = {"name": "from-the-browser", "role": "viewer"}
    assert client.post("/api/v1/tokens", json=body).status_code == 403
    response = client.post(
        "/api/v1/tokens", json=body, headers={"X-CSRF-Token": _page_csrf(client)}
    )
    assert response.status_code == 201


def test_the_session_role_comes_from_people(client: TestClient, runtime: Runtime) -> None:
    _set_password(runtime, "vic", "correct horse battery")
    assert _login(client, "vic", "correct horse battery") == 303
    assert client.get("/api/v1/whoami").json()["role"] == "viewer"
    response = client.post(
        "/api/v1/tokens",
        json={"name": "nope", "role": "viewer"},
        headers={"X-CSRF-Token": _page_csrf(client)},
    )
    assert response.status_code == 403


def test_logout_ends_the_session(client: TestClient, runtime: Runtime) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    assert _login(client, "rita", "correct horse battery") == 303
    csrf = _page_csrf(client)
    assert (
        client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_new_password_ends_existing_sessions(client: TestClient, runtime: Runtime) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    assert _login(client, "rita", "correct horse battery") == 303
    _set_password(runtime, "rita", "another long password")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_passwords_are_stored_as_argon2_hashes(runtime: Runtime) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    with runtime.db.session() as session:
        stored = session.get(UserCredential, "rita")
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert "correct horse battery" not in stored.password_hash


def test_the_main_navigation_marks_the_section_being_shown(
    client: TestClient, runtime: Runtime
) -> None:
    _set_password(runtime, "rita", "correct horse battery")
    assert _login(client, "rita", "correct horse battery") == 303
    current = re.compile(r'<a href="([^"]+)" aria-current="page">')
    assert current.findall(client.get("/").text) == ["/"]
    assert current.findall(client.get("/incidents").text) == ["/incidents"]
    assert current.findall(client.get("/silences").text) == ["/silences"]
