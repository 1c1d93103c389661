"""The on-call API: who is on call, shifts with gaps, overrides by role, calendar feeds."""

from __future__ import annotations

import icalendar
from fastapi.testclient import TestClient

from opsbook.runtime import Runtime
from support import bearer


def test_now_and_shifts_answer_with_people_gaps_and_coverage(
    client: TestClient, tokens: dict[str, str]
) -> None:
    viewer = bearer(tokens["viewer"])
    now = client.get("/api/v1/oncall/now", headers=viewer).json()
    assert [(s["layer"], s["person"], s["person_name"]) for s in now] == [
        ("primary", "maya", "Maya Chen"),
        ("secondary", "lucia", "Lucia Romero"),
    ]
    later = client.get(
        "/api/v1/oncall/now", params={"at": "2026-01-12T09:30:00+01:00"}, headers=viewer
    ).json()
    assert later[0]["person"] == "dev"  # Monday 09:00 Berlin is the handoff
    shifts = client.get(
        "/api/v1/oncall/shifts",
        params={"from": "2026-01-05T08:00:00Z", "to": "2026-01-19T08:00:00Z"},
        headers=viewer,
    ).json()
    primary = shifts[0]
    assert (primary["coverage_percent"], primary["gaps"]) == (100.0, 0)
    assert [s["person"] for s in primary["shifts"]] == ["maya", "dev"]
    naive = client.get("/api/v1/oncall/now", params={"at": "2026-01-12T08:30"}, headers=viewer)
    assert naive.status_code == 422
    unknown = client.get("/api/v1/oncall/now", params={"schedule": "nope"}, headers=viewer)
    assert unknown.status_code == 404
    assert "no schedule 'nope'" in unknown.json()["message"]


def test_overrides_are_made_by_responders_and_win_over_the_rotation(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = {
        "schedule": "platform",
        "person": "priya",
        "start": "2026-01-05T12:00:00Z",
        "end": "2026-01-05T18:00:00Z",
        "reason": "maya at the dentist",
    }
    assert (
        client.post(
            "/api/v1/oncall/overrides", json=body, headers=bearer(tokens["viewer"])
        ).status_code
        == 403
    )
    made = client.post("/api/v1/oncall/overrides", json=body, headers=bearer(tokens["responder"]))
    assert made.status_code == 201
    assert made.json()["created_by"] == "token:responder-token"
    viewer = bearer(tokens["viewer"])
    at = {"at": "2026-01-05T13:00:00Z"}
    assert client.get("/api/v1/oncall/now", params=at, headers=viewer).json()[0]["source"] == (
        f"override:{made.json()['id']}"
    )
    bad = client.post(
        "/api/v1/oncall/overrides",
        json={**body, "end": "2026-01-05T11:00:00Z"},
        headers=bearer(tokens["responder"]),
    )
    assert bad.status_code == 422
    assert bad.json()["message"] == "an override must end after it starts"
    listed = client.get("/api/v1/oncall/overrides", headers=viewer).json()
    assert [o["person"] for o in listed] == ["priya"]
    removed = client.delete(
        f"/api/v1/oncall/overrides/{made.json()['id']}", headers=bearer(tokens["responder"])
    )
    assert removed.status_code == 200
    assert client.get("/api/v1/oncall/overrides", headers=viewer).json() == []
    assert client.get("/api/v1/oncall/now", params=at, headers=viewer).json()[0]["person"] == "maya"


def test_calendar_feeds_take_a_feed_token_in_the_url(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    feeds = client.get("/api/v1/oncall/feeds", headers=bearer(tokens["viewer"])).json()
    urls = {(f["scope"], f["name"]): f["url"] for f in feeds}
    schedule_url = urls[("schedule", "platform")].removeprefix("http://opsbook.test")
    response = client.get(schedule_url)  # no header: what a calendar app does
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = icalendar.Calendar.from_ical(response.text).walk("VEVENT")
    assert {str(e["SUMMARY"]) for e in events} >= {"On call: Maya Chen (platform, primary)"}
    person = client.get(urls[("person", "maya")].removeprefix("http://opsbook.test"))
    assert person.status_code == 200
    people = {
        str(e["SUMMARY"]).split(" (")[0]
        for e in icalendar.Calendar.from_ical(person.text).walk("VEVENT")
    }
    assert people == {"On call: Maya Chen"}
    assert client.get("/api/v1/oncall/platform.ics?token=wrong").status_code == 403
    assert client.get("/api/v1/oncall/platform.ics").status_code == 401
    assert (
        client.get("/api/v1/oncall/platform.ics", headers=bearer(tokens["viewer"])).status_code
        == 200
    )
    # A schedule's token opens that schedule's feed only.
    token = schedule_url.split("token=")[1]
    assert client.get(f"/api/v1/oncall/people/maya.ics?token={token}").status_code == 403
