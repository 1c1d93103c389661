"""Public updates: their states, templates, drafts, and what never reaches the public."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from status_support import document

from opsbook.core.clock import FakeClock
from opsbook.incidents import add_note, open_incident
from opsbook.runtime import Runtime
from opsbook.status import service
from opsbook.status.snapshot import SnapshotKeeper


def _incident(runtime: Runtime, clock: FakeClock, **extra: object) -> int:
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title="DB primary OOM-killed",
            severity="P2",
            by="alice",
            now=clock.now(),
            components=["Payments"],
            **extra,
        )  # type: ignore[arg-type]
        add_note(
            session,
            incident_id=incident.id,
            by="alice",
            now=clock.now(),
            markdown="internal: the password hunter2 was in the core dump",
        )
        return incident.number


def test_an_update_from_the_incident_opens_the_public_incident_with_the_template(
    runtime: Runtime, clock: FakeClock, keeper: SnapshotKeeper
) -> None:
    number = _incident(runtime, clock)
    with runtime.db.session() as session, session.begin():
        entry = service.post_for_incident(
            session,
            config=runtime.config,
            number=number,
            status="investigating",
            by="person:rita",
            now=clock.now(),
        )
        assert entry.body == (
            "We are investigating reports of problems with Payments. "
            "We will post an update within 30 minutes."
        )
        assert entry.component_statuses == {"payments": "degraded_performance"}
    summary = document(keeper, "/api/v2/summary.json")
    [public] = summary["incidents"]
    assert public["name"] == "Problems with Payments"  # never the internal title
    page = document(keeper, "/status")
    assert "DB primary OOM-killed" not in page
    assert "hunter2" not in page
    assert "OOM" not in str(summary)


def test_states_move_as_the_table_allows(runtime: Runtime, clock: FakeClock) -> None:
    with runtime.db.session() as session, session.begin():
        public = service.open_public_incident(
            session,
            name="API errors",
            status="investigating",
            body="Looking.",
            component_statuses={},
            by="alice",
            now=clock.now(),
        )
        for status in ("identified", "monitoring", "resolved", "postmortem"):
            service.post_update(
                session, code=public.code, status=status, body=status, by="alice", now=clock.now()
            )
        with pytest.raises(service.StatusError, match="cannot go from postmortem"):
            service.post_update(
                session,
                code=public.code,
                status="investigating",
                body="x",
                by="alice",
                now=clock.now(),
            )
        with pytest.raises(service.StatusError, match="opens as investigating"):
            service.open_public_incident(
                session,
                name="x",
                status="resolved",
                body="x",
                component_statuses={},
                by="alice",
                now=clock.now(),
            )


def test_resolving_puts_the_components_back_to_operational(
    runtime: Runtime, clock: FakeClock, keeper: SnapshotKeeper
) -> None:
    with runtime.db.session() as session, session.begin():
        public = service.open_public_incident(
            session,
            name="API errors",
            status="investigating",
            body="Looking.",
            component_statuses={"api": "major_outage"},
            by="alice",
            now=clock.now(),
        )
        resolved = service.post_update(
            session, code=public.code, status="resolved", body="Fixed.", by="alice", now=clock.now()
        )
        assert resolved.component_statuses == {"api": "operational"}
    summary = document(keeper, "/api/v2/summary.json")
    assert summary["incidents"] == []
    assert summary["status"]["indicator"] == "none"


def test_a_draft_is_not_public_until_an_update_publishes_it(
    runtime: Runtime, clock: FakeClock, keeper: SnapshotKeeper
) -> None:
    number = _incident(runtime, clock)
    with runtime.db.session() as session, session.begin():
        service.open_public_incident(
            session,
            name="Payments are slow",
            status="investigating",
            body="Draft.",
            component_statuses={},
            by="opsbook",
            now=clock.now(),
            publish=False,
            incident_id=_incident_id(runtime, number),
        )
    assert document(keeper, "/api/v2/incidents.json")["incidents"] == []
    with runtime.db.session() as session, session.begin():
        service.post_for_incident(
            session,
            config=runtime.config,
            number=number,
            status="identified",
            body="A slow query.",
            by="alice",
            now=clock.now(),
        )
    [public] = document(keeper, "/api/v2/incidents.json")["incidents"]
    assert [u["body"] for u in public["incident_updates"]] == ["A slow query.", "Draft."]


def _incident_id(runtime: Runtime, number: int) -> int:
    from opsbook.incidents import get_incident

    with runtime.db.read_session() as session:
        return get_incident(session, number=number).id


def test_bad_input_is_refused_with_a_clear_message(runtime: Runtime, clock: FakeClock) -> None:
    number = _incident(runtime, clock)
    with runtime.db.session() as session, session.begin():
        with pytest.raises(service.StatusError, match="no component 'Billing'"):
            service.parse_component_statuses(runtime.config, ["Billing=major_outage"])
        with pytest.raises(service.StatusError, match="unknown component status 'down'"):
            service.parse_component_statuses(runtime.config, {"api": "down"})
        with pytest.raises(service.StatusNotFound, match="no incident #99"):
            service.post_for_incident(
                session,
                config=runtime.config,
                number=99,
                status="investigating",
                by="alice",
                now=clock.now(),
            )
        with pytest.raises(service.StatusError, match="needs a message"):
            service.open_public_incident(
                session,
                name="x",
                status="investigating",
                body=" ",
                component_statuses={},
                by="alice",
                now=clock.now(),
            )
        # A blank message from the incident is no mistake: it asks for the template.
        entry = service.post_for_incident(
            session,
            config=runtime.config,
            number=number,
            status="investigating",
            body=" ",
            by="alice",
            now=clock.now(),
        )
        assert entry.body.startswith("We are investigating")


def test_the_api_posts_from_the_incident_and_enforces_roles(
    client: TestClient, tokens: dict[str, str], runtime: Runtime, clock: FakeClock
) -> None:
    number = _incident(runtime, clock)
    url = f"/api/v1/incidents/{number}/public-updates"
    body = {
        "status": "identified",
        "message": "A bad deploy; rolling back.",
        "components": {"Payments": "partial_outage"},
    }
    viewer = client.post(url, json=body, headers={"Authorization": f"Bearer {tokens['viewer']}"})
    assert viewer.status_code == 403
    posted = client.post(url, json=body, headers={"Authorization": f"Bearer {tokens['responder']}"})
    assert posted.status_code == 201, posted.text
    assert posted.json()["updates"][0]["components"] == {"payments": "partial_outage"}
    refused = client.post(
        url,
        json={**body, "components": {"Billing": "major_outage"}},
        headers={"Authorization": f"Bearer {tokens['responder']}"},
    )
    assert refused.status_code == 409
    assert "no component 'Billing'" in refused.json()["message"]
    malformed = client.post(
        url, json={"status": "exploded"}, headers={"Authorization": f"Bearer {tokens['responder']}"}
    )
    assert malformed.status_code == 422
    listed = client.get(url, headers={"Authorization": f"Bearer {tokens['viewer']}"})
    assert [p["status"] for p in listed.json()] == ["identified"]
