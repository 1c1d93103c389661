"""The postmortems and action items API: a postmortem written over HTTP, roles and errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from opsbook.incidents.postmortems.api import SectionKey
from opsbook.incidents.postmortems.template import SECTION_KEYS
from opsbook.runtime import Runtime
from support import bearer

BASE = "/api/v1/incidents"


def _resolved_incident(client: TestClient, runtime: Runtime, token: str) -> int:
    headers = bearer(token)
    opened = client.post(BASE, json={"title": "Checkout 5xx", "severity": "P1"}, headers=headers)
    number: int = opened.json()["number"]
    runtime.clock.advance(timedelta(minutes=4))  # type: ignore[attr-defined]
    assert client.post(f"{BASE}/{number}/ack", headers=headers).is_success
    runtime.clock.advance(timedelta(minutes=20))  # type: ignore[attr-defined]
    assert client.post(f"{BASE}/{number}/resolve", headers=headers).is_success
    return number


def test_the_section_keys_of_the_api_are_the_templates() -> None:
    assert get_args(SectionKey) == SECTION_KEYS


def test_a_postmortem_is_drafted_written_and_published_over_http(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    number = _resolved_incident(client, runtime, tokens["responder"])
    drafted = client.post(f"{BASE}/{number}/postmortem", headers=responder)
    assert drafted.status_code == 201, drafted.text
    body = drafted.json()
    assert (body["status"], body["incident"], body["overdue"]) == ("draft", number, False)
    assert body["due_at"] is not None
    assert [s["key"] for s in body["sections"]] == list(SECTION_KEYS)
    prevention = next(s for s in body["sections"] if s["key"] == "prevention")
    written = client.put(
        f"{BASE}/{number}/postmortem/sections/prevention",
        json={"markdown": "Alert at 80% pool use."},
        headers={**responder, "If-Match": str(prevention["version"])},
    )
    assert written.status_code == 200, written.text
    assert written.json()["edited_by"] == "token:responder-token"
    stale = client.put(
        f"{BASE}/{number}/postmortem/sections/prevention",
        json={"markdown": "lost"},
        headers={**responder, "If-Match": str(prevention["version"])},
    )
    assert stale.status_code == 409
    item = client.post(
        f"{BASE}/{number}/postmortem/action-items",
        json={"title": "Pool alert", "owner": "rita", "due_on": "2026-01-09"},
        headers=responder,
    )
    assert item.status_code == 201, item.text
    assert (item.json()["incident"], item.json()["status"]) == (number, "open")
    unwritten = client.post(
        f"{BASE}/{number}/postmortem/status", json={"to": "published"}, headers=responder
    )
    assert unwritten.status_code == 409
    assert unwritten.json()["message"].endswith(": Root Cause")
    client.put(
        f"{BASE}/{number}/postmortem/sections/root_cause",
        json={"markdown": "The pool was too small for the sale."},
        headers=responder,
    )
    published = client.post(
        f"{BASE}/{number}/postmortem/status", json={"to": "published"}, headers=responder
    )
    assert published.json()["status"] == "published"
    refused = client.post(
        f"{BASE}/{number}/postmortem/status", json={"to": "closed"}, headers=responder
    )
    assert refused.status_code == 409
    assert "still open" in refused.json()["message"]
    done = client.patch(
        f"/api/v1/action-items/{item.json()['id']}", json={"status": "done"}, headers=responder
    )
    assert done.json()["done_at"] is not None
    closed = client.post(
        f"{BASE}/{number}/postmortem/status", json={"to": "closed"}, headers=responder
    )
    assert closed.json()["status"] == "closed"

    markdown = client.get(f"{BASE}/{number}/postmortem/export", headers=responder)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.headers["content-disposition"] == (
        f'attachment; filename="postmortem-{number}.md"'
    )
    assert "## 6. Prevention\n\nAlert at 80% pool use." in markdown.text
    as_json = client.get(f"{BASE}/{number}/postmortem/export?format=json", headers=responder)
    assert as_json.json()["postmortem"]["status"] == "closed"
    listed = client.get("/api/v1/postmortems", headers=bearer(tokens["viewer"])).json()
    assert [(p["incident"], p["status"]) for p in listed] == [(number, "closed")]


def test_action_items_are_listed_across_incidents_with_overdue_and_owner_filters(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    for title, owner, due in (("A", "rita", "2026-01-06"), ("B", "alice", "2026-02-01")):
        number = _resolved_incident(client, runtime, tokens["responder"])
        client.post(f"{BASE}/{number}/postmortem", headers=responder)
        client.post(
            f"{BASE}/{number}/postmortem/action-items",
            json={"title": title, "owner": owner, "due_on": due},
            headers=responder,
        )
    runtime.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    viewer = bearer(tokens["viewer"])
    every = client.get("/api/v1/action-items", headers=viewer).json()
    assert [(i["title"], i["incident"], i["overdue"]) for i in every] == [
        ("A", 1, True),
        ("B", 2, False),
    ]
    overdue = client.get("/api/v1/action-items?overdue=true", headers=viewer).json()
    assert [i["title"] for i in overdue] == ["A"]
    mine = client.get("/api/v1/action-items?owner=alice", headers=viewer).json()
    assert [i["title"] for i in mine] == ["B"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/1/postmortem", None),
        ("PUT", "/1/postmortem/sections/root_cause", {"markdown": "x"}),
        ("POST", "/1/postmortem/status", {"to": "published"}),
        (
            "POST",
            "/1/postmortem/action-items",
            {"title": "x", "owner": "rita", "due_on": "2026-02-01"},
        ),
    ],
)
def test_a_viewer_may_read_but_not_write_postmortems(
    client: TestClient,
    runtime: Runtime,
    tokens: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    number = _resolved_incident(client, runtime, tokens["responder"])
    assert number == 1
    client.post(f"{BASE}/1/postmortem", headers=bearer(tokens["responder"]))
    refused = client.request(method, BASE + path, json=body, headers=bearer(tokens["viewer"]))
    assert refused.status_code == 403
    assert refused.json()["message"] == "this needs the responder role; you have viewer"
    assert client.get(f"{BASE}/1/postmortem", headers=bearer(tokens["viewer"])).status_code == 200


def test_errors_are_clear(client: TestClient, runtime: Runtime, tokens: dict[str, str]) -> None:
    responder = bearer(tokens["responder"])
    missing = client.get(f"{BASE}/9/postmortem", headers=responder)
    assert (missing.status_code, missing.json()["message"]) == (404, "no incident #9")
    opened = client.post(BASE, json={"title": "Open", "severity": "P2"}, headers=responder)
    number = opened.json()["number"]
    none_yet = client.get(f"{BASE}/{number}/postmortem", headers=responder)
    assert none_yet.status_code == 404
    assert "has no postmortem yet" in none_yet.json()["message"]
    still_open = client.post(f"{BASE}/{number}/postmortem", headers=responder)
    assert still_open.status_code == 409
    assert "drafted once it is resolved" in still_open.json()["message"]
    unknown = client.put(
        f"{BASE}/{number}/postmortem/sections/gossip", json={"markdown": "x"}, headers=responder
    )
    assert unknown.status_code == 422
    assert client.patch("/api/v1/action-items/77", json={}, headers=responder).status_code == 404
