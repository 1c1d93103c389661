"""The incident page (incidents' web UI) shows the status page's public-update form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from test_operator_pages_post_updates_and_show_prompts import incident, log_in

from opsbook.core.clock import FakeClock
from opsbook.runtime import Runtime


def test_a_responder_posts_a_public_update_from_the_incident_page(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    csrf = log_in(client, runtime, "rita")
    number = incident(runtime, clock)
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 200
    action = re.search(r'<form method="post" action="([^"]*public-update)"', page.text)
    assert action is not None
    assert action.group(1) == f"/ui/incidents/{number}/public-update"
    assert f'name="next" value="/incidents/{number}"' in page.text
    posted = client.post(
        action.group(1),
        data={
            "csrf_token": csrf,
            "status": "investigating",
            "message": "We are looking into failed payments.",
            "component:payments": "partial_outage",
            "name": "Payment problems",
            "next": f"/incidents/{number}",
        },
        follow_redirects=False,
    )
    assert (posted.status_code, posted.headers["location"]) == (303, f"/incidents/{number}")
    [public] = client.get("/api/v2/incidents/unresolved.json").json()["incidents"]
    assert public["incident_updates"][0]["body"] == "We are looking into failed payments."
    assert "Public incident" in client.get(f"/incidents/{number}").text


def test_a_viewer_sees_the_incident_without_the_public_update_form(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    log_in(client, runtime, "vic")
    number = incident(runtime, clock)
    page = client.get(f"/incidents/{number}")
    assert page.status_code == 200
    assert "public-update" not in page.text
