"""The incidents API: an incident worked from trigger to closed, roles enforced, clear errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsbook.runtime import Runtime
from support import bearer

BASE = "/api/v1/incidents"
# Every route that changes something, with a body it accepts.
MUTATING: list[tuple[str, dict[str, Any] | None]] = [
    ("", {"title": "Checkout 5xx", "severity": "P2"}),
    ("/1/ack", None),
    ("/1/status", {"to": "investigating"}),
    ("/1/severity", {"severity": "P1"}),
    ("/1/assign", {"role": "commander", "person": "rita"}),
    ("/1/unassign", {"role": "commander", "person": "rita"}),
    ("/1/note", {"markdown": "looking"}),
    ("/1/output", {"text": "ok", "label": "kubectl get pods"}),
    ("/1/checklist", {"item": 1}),
    ("/1/impact", {"users_affected": 10}),
    ("/1/resolve", None),
    ("/1/close", None),
    ("/1/merge", {"into": 2}),
]


def _open(client: TestClient, token: str, title: str = "Checkout is failing") -> dict[str, Any]:
    response = client.post(
        BASE, json={"title": title, "severity": "P1", "summary": "5xx"}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_incident_is_worked_from_trigger_to_closed_and_the_timeline_says_who_and_when(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    clock = runtime.clock
    opened_at = clock.now()
    incident = _open(client, tokens["responder"])
    number = incident["number"]
    assert (incident["status"], incident["severity"], incident["version"]) == ("triggered", "P1", 1)
    assert incident["checklist"]
    assert incident["roles"] == []

    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("ack", None),
        ("status", {"to": "investigating", "reason": "looking at the database"}),
        ("note", {"markdown": "Connection pool **exhausted**"}),
        ("resolve", {"reason": "pool size raised"}),
        ("close", None),
    ]
    times = []
    for action, body in steps:
        times.append(clock.advance(timedelta(minutes=5)))  # type: ignore[attr-defined]
        response = client.post(f"{BASE}/{number}/{action}", json=body, headers=responder)
        assert response.status_code in (200, 201), (action, response.text)

    shown = client.get(f"{BASE}/{number}", headers=responder)
    assert shown.json()["status"] == "closed"
    assert shown.headers["etag"] == f'"{shown.json()["version"]}"'
    entries = client.get(f"{BASE}/{number}/timeline", headers=responder).json()
    assert {e["actor"] for e in entries if e["kind"] != "notification_pending"} <= {
        "token:responder-token"
    }
    changes = [
        (e["kind"], e["data"].get("to"), datetime.fromisoformat(e["at"]))
        for e in entries
        if e["kind"] in ("created", "acknowledged", "status_changed", "note")
    ]
    assert changes == [
        ("created", None, opened_at),
        ("status_changed", "acknowledged", times[0]),
        ("acknowledged", None, times[0]),
        ("status_changed", "investigating", times[1]),
        ("note", None, times[2]),
        ("status_changed", "resolved", times[3]),
        ("status_changed", "closed", times[4]),
    ]
    note = next(e for e in entries if e["kind"] == "note")
    assert note["body"] == "Connection pool **exhausted**"


def test_roles_checklist_impact_and_severity_show_in_the_detail(
    client: TestClient, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    number = _open(client, tokens["responder"])["number"]
    url = f"{BASE}/{number}"
    client.post(f"{url}/assign", json={"role": "commander", "person": "rita"}, headers=responder)
    tick = client.post(f"{url}/checklist", json={"item": 1}, headers=responder).json()
    assert (tick["position"], tick["changed"], tick["done_by"]) == (
        1,
        True,
        "token:responder-token",
    )
    client.post(
        f"{url}/impact", json={"components": ["API"], "users_affected": 40}, headers=responder
    )
    client.post(f"{url}/severity", json={"severity": "P0", "reason": "all"}, headers=responder)
    detail = client.get(url, headers=responder).json()
    assert [(r["role"], r["person"]) for r in detail["roles"]] == [("commander", "rita")]
    assert detail["checklist"][0]["done_by"] == "token:responder-token"
    assert (detail["components"], detail["users_affected"], detail["severity"]) == (
        ["API"],
        40,
        "P0",
    )
    removed = client.post(
        f"{url}/unassign", json={"role": "commander", "person": "rita"}, headers=responder
    )
    assert removed.json()["roles"] == []


def test_list_filters_by_status_severity_and_open(
    client: TestClient, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    first = _open(client, tokens["responder"], "Checkout 5xx")["number"]
    second = _open(client, tokens["responder"], "Search slow")["number"]
    client.post(f"{BASE}/{first}/resolve", headers=responder)

    def numbers(**params: object) -> list[int]:
        return [i["number"] for i in client.get(BASE, params=params, headers=responder).json()]

    assert numbers() == [second, first]
    assert numbers(open=True) == [second]
    assert numbers(status="resolved") == [first]
    assert numbers(severity="P3") == []


def test_merge_closes_the_duplicate_and_answers_with_the_kept_incident(
    client: TestClient, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    kept = _open(client, tokens["responder"], "Checkout 5xx")["number"]
    duplicate = _open(client, tokens["responder"], "Payments failing")["number"]
    merged = client.post(f"{BASE}/{duplicate}/merge", json={"into": kept}, headers=responder)
    assert merged.status_code == 200, merged.text
    assert merged.json()["number"] == kept
    source = client.get(f"{BASE}/{duplicate}", headers=responder).json()
    assert (source["status"], source["merged_into"]) == ("closed", kept)


def test_a_rejected_transition_is_a_409_naming_the_allowed_moves(
    client: TestClient, tokens: dict[str, str]
) -> None:
    number = _open(client, tokens["responder"])["number"]
    response = client.post(f"{BASE}/{number}/close", headers=bearer(tokens["responder"]))
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "error": "conflict",
        "message": "an incident cannot go from triggered to closed (allowed from triggered: "
        "acknowledged, investigating, identified, mitigated, resolved)",
    }


def test_an_unknown_status_or_role_is_a_422_before_the_incident_is_touched(
    client: TestClient, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    number = _open(client, tokens["responder"])["number"]
    status = client.post(f"{BASE}/{number}/status", json={"to": "fixed"}, headers=responder)
    assert status.status_code == 422
    assert status.json()["message"].startswith("body.to: ")
    role = client.post(
        f"{BASE}/{number}/assign", json={"role": "boss", "person": "rita"}, headers=responder
    )
    assert role.status_code == 422


def test_a_stale_if_match_version_is_a_409_and_the_current_one_succeeds(
    client: TestClient, tokens: dict[str, str]
) -> None:
    responder = bearer(tokens["responder"])
    number = _open(client, tokens["responder"])["number"]
    etag = client.get(f"{BASE}/{number}", headers=responder).headers["etag"]
    assert client.post(f"{BASE}/{number}/ack", headers={**responder, "If-Match": etag}).is_success
    stale = client.post(
        f"{BASE}/{number}/status",
        json={"to": "investigating"},
        headers={**responder, "If-Match": etag},
    )
    assert stale.status_code == 409
    assert "changed by someone else" in stale.json()["message"]
    garbled = client.post(f"{BASE}/{number}/ack", headers={**responder, "If-Match": "abc"})
    assert garbled.status_code == 422


def test_an_unknown_incident_is_a_404(client: TestClient, tokens: dict[str, str]) -> None:
    viewer, responder = bearer(tokens["viewer"]), bearer(tokens["responder"])
    assert client.get(f"{BASE}/99", headers=viewer).json() == {
        "status": 404,
        "error": "not_found",
        "message": "no incident #99",
    }
    assert client.get(f"{BASE}/99/timeline", headers=viewer).status_code == 404
    assert client.post(f"{BASE}/99/ack", headers=responder).status_code == 404
    assert client.post(f"{BASE}/99/merge", json={"into": 98}, headers=responder).status_code == 404


@pytest.mark.parametrize(("path", "body"), MUTATING, ids=[p or "open" for p, _ in MUTATING])
def test_a_viewer_may_not_act_and_a_responder_may(
    client: TestClient, tokens: dict[str, str], path: str, body: dict[str, Any] | None
) -> None:
    _open(client, tokens["responder"], "First")
    _open(client, tokens["responder"], "Second")
    if path in ("/1/unassign", "/1/close"):  # they need a role to remove, a resolved incident
        setup = "/1/assign" if path == "/1/unassign" else "/1/resolve"
        client.post(BASE + setup, json=body, headers=bearer(tokens["responder"]))
    denied = client.post(BASE + path, json=body, headers=bearer(tokens["viewer"]))
    assert denied.status_code == 403
    assert denied.json()["message"] == "this needs the responder role; you have viewer"
    allowed = client.post(BASE + path, json=body, headers=bearer(tokens["responder"]))
    assert allowed.status_code in (200, 201), allowed.text


def test_a_viewer_may_read_everything(client: TestClient, tokens: dict[str, str]) -> None:
    number = _open(client, tokens["responder"])["number"]
    viewer = bearer(tokens["viewer"])
    for path in ("", f"/{number}", f"/{number}/timeline"):
        assert client.get(BASE + path, headers=viewer).status_code == 200
