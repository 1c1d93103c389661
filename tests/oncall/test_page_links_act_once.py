"""Signed page links: GET only asks, POST acts once, for one incident, until they expire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from oncall_support import escalation_of, open_one, outbox, who_was_paged

from opsbook.incidents import get_incident
from opsbook.oncall.links import sign_link, verify_link
from opsbook.runtime import Runtime


def _links(runtime: Runtime, incident_id: int) -> dict[str, str]:
    """The links in the first page of the incident, by label, as paths."""
    page = next(
        n for n in outbox(runtime.db) if n.idempotency_key.startswith(f"page:{incident_id}:")
    )
    return {
        link["label"]: link["url"].removeprefix("http://opsbook.test")
        for link in page.message["links"]
    }


def _status(runtime: Runtime, incident_id: int) -> str:
    with runtime.db.session() as session:
        return get_incident(session, incident_id=incident_id).status


def test_get_asks_and_post_acknowledges_once(
    runtime: Runtime, client: TestClient, run_jobs: Callable[[], int]
) -> None:
    incident = open_one(runtime.db, runtime.clock, runtime.config)  # type: ignore[arg-type]
    run_jobs()
    ack = _links(runtime, incident.id)["Acknowledge"]
    shown = client.get(ack)  # what a mail scanner does: it must change nothing
    assert shown.status_code == 200
    assert '<form method="post"' in shown.text
    assert "Acknowledge incident #1" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert _status(runtime, incident.id) == "triggered"

    done = client.post(ack)
    assert done.status_code == 200
    assert "Acknowledged: the escalation has stopped." in done.text
    assert _status(runtime, incident.id) == "acknowledged"
    run_jobs()
    assert escalation_of(runtime.db, incident.id).status == "acknowledged"

    again = client.post(ack)
    assert again.status_code == 409
    assert "already used" in again.text
    assert "already used" in client.get(ack).text
    runtime.clock.advance(timedelta(minutes=20))  # type: ignore[attr-defined]
    run_jobs()
    assert who_was_paged(runtime.db, incident.id) == [("maya", "e1.r0.p0.l1")]


def test_a_forged_expired_or_retargeted_link_is_refused(
    runtime: Runtime, client: TestClient, run_jobs: Callable[[], int]
) -> None:
    first = open_one(runtime.db, runtime.clock, runtime.config)  # type: ignore[arg-type]
    second = open_one(runtime.db, runtime.clock, runtime.config)  # type: ignore[arg-type]
    run_jobs()
    ack = _links(runtime, first.id)["Acknowledge"]
    token = ack.removeprefix("/links/")
    other = _links(runtime, second.id)["Acknowledge"].removeprefix("/links/")
    # The first incident's payload with the second one's signature: for one incident only.
    spliced = token.split(".")[0] + "." + other.split(".")[1]
    for bad in (spliced, token[:-2] + "xx", "nonsense", token + ".extra"):
        response = client.post(f"/links/{bad}")
        assert response.status_code == 403
        assert "This link cannot be used" in response.text
    assert _status(runtime, first.id) == "triggered"
    # A link does only what it says: the resolve link of #2 does not acknowledge #1.
    assert (
        verify_link(runtime.secret_key(), other, now=runtime.clock.now()).incident_id == second.id
    )

    runtime.clock.advance(timedelta(hours=24, seconds=1))  # type: ignore[attr-defined]
    expired = client.get(ack)
    assert expired.status_code == 403
    assert "expired" in expired.text
    assert client.post(ack).status_code == 403


def test_resolve_escalate_and_open_links(
    runtime: Runtime, client: TestClient, run_jobs: Callable[[], int]
) -> None:
    incident = open_one(runtime.db, runtime.clock, runtime.config)  # type: ignore[arg-type]
    run_jobs()
    links = _links(runtime, incident.id)
    opened = client.get(links["Open incident"])
    assert opened.status_code == 200
    assert "Checkout is failing" in opened.text
    assert "<form" not in opened.text.split("<main")[1]

    assert client.post(links["Escalate now"]).status_code == 200
    run_jobs()
    assert who_was_paged(runtime.db, incident.id)[-1] == ("lucia", "e1.r0.p0.l2")
    assert client.post(links["Escalate now"]).status_code == 409  # used

    resolved = client.post(links["Resolve"])
    assert resolved.status_code == 200
    assert "Resolved incident #1" in resolved.text
    assert _status(runtime, incident.id) == "resolved"


def test_the_signing_key_is_generated_once_and_shared(runtime: Runtime) -> None:
    from opsbook.core.instance import stored_secret_key

    key = runtime.secret_key()
    assert key == stored_secret_key(runtime.db)
    assert len(key) >= 40
    token = sign_link(
        key,
        incident_id=1,
        action="ack",
        person="maya",
        step="s",
        expires_at=runtime.clock.now() + timedelta(hours=1),
    )
    assert (
        verify_link(stored_secret_key(runtime.db), token, now=runtime.clock.now()).person == "maya"
    )
