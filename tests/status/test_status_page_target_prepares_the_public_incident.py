"""The severity policy's status_page target: a draft by default, or published, or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from status_support import document

from opsbook.core.clock import FakeClock
from opsbook.core.jobs import JobRunner
from opsbook.incidents import IncidentEvent, open_incident, resolve
from opsbook.incidents.targets import target_job_kind
from opsbook.runtime import Runtime
from opsbook.settings import Settings
from opsbook.status import service
from opsbook.status.jobs import resolve_followers
from opsbook.status.snapshot import SnapshotKeeper


def _run_jobs(runtime: Runtime) -> list[str]:
    runner = JobRunner(db=runtime.db, registry=runtime.jobs, clock=runtime.clock, worker_id="test")
    return [f"{o.kind}:{o.status}" for o in runner.run_until_idle()]


def _open(runtime: Runtime, clock: FakeClock, severity: str = "P1") -> int:
    with runtime.db.session() as session, session.begin():
        incident = open_incident(
            session,
            config=runtime.config,
            title="Stripe webhooks 500",
            severity=severity,
            by="alice",
            now=clock.now(),
            components=["Payments", "API"],
        )
        return incident.id


def _with(runtime: Runtime, tmp_path: Path, text: str, line: str) -> Runtime:
    path = tmp_path / "other.yaml"
    path.write_text(text.replace("  rebuild_debounce: 0s\n", f"  rebuild_debounce: 0s\n{line}"))
    settings = Settings(database_url=runtime.db.url, config_file=path)
    return Runtime.create(settings, clock=runtime.clock, db=runtime.db, migrate=False)


def test_the_real_handler_replaces_the_fallback(runtime: Runtime) -> None:
    handler = runtime.jobs.get(target_job_kind("status_page"))
    assert handler.__name__ == "status_page_target"


def test_a_p1_prepares_a_draft_a_person_publishes(
    runtime: Runtime, clock: FakeClock, keeper: SnapshotKeeper
) -> None:
    incident_id = _open(runtime, clock)
    assert f"{target_job_kind('status_page')}:done" in _run_jobs(runtime)
    with runtime.db.read_session() as session:
        [draft] = service.public_incidents(session, published=None, incident_id=incident_id)
        latest = service.latest_update(session, incident_id=draft.id)
        entries = session.scalars(
            select(IncidentEvent).where(
                IncidentEvent.incident_id == incident_id,
                IncidentEvent.kind == "notification_delivered",
            )
        ).all()
    assert draft.published_at is None
    assert draft.name == "Problems with Payments and API"
    assert latest is not None
    assert latest.component_statuses == {
        "payments": "partial_outage",
        "api": "partial_outage",
    }
    assert [e.body for e in entries] == [
        f"status_page: draft public incident {draft.code} prepared; publish it"
    ]
    assert document(keeper, "/api/v2/summary.json")["incidents"] == []
    with runtime.db.session() as session, session.begin():
        service.publish(session, code=draft.code, by="person:rita", now=clock.now())
    assert [i["name"] for i in document(keeper, "/api/v2/summary.json")["incidents"]] == [
        "Problems with Payments and API"
    ]


def test_a_retried_job_prepares_nothing_twice(runtime: Runtime, clock: FakeClock) -> None:
    incident_id = _open(runtime, clock)
    _run_jobs(runtime)
    with runtime.db.session() as session, session.begin():
        from opsbook.incidents.models import Incident
        from opsbook.status.jobs import prepare_public_incident

        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert (
            prepare_public_incident(
                session, config=runtime.config, incident=incident, now=clock.now()
            )
            is None
        )
        assert len(service.public_incidents(session, published=None)) == 1


def test_a_p2_does_not_touch_the_status_page(runtime: Runtime, clock: FakeClock) -> None:
    _open(runtime, clock, severity="P2")
    assert not [k for k in _run_jobs(runtime) if k.startswith(target_job_kind("status_page"))]


@pytest.mark.parametrize(
    ("mode", "published", "count"), [("publish", True, 1), ("ignore", None, 0)]
)
def test_on_incident_publish_or_ignore(
    runtime: Runtime,
    clock: FakeClock,
    tmp_path: Path,
    status_config_text: str,
    mode: str,
    published: bool | None,
    count: int,
) -> None:
    other = _with(runtime, tmp_path, status_config_text, f"  on_incident: {mode}\n")
    _open(other, clock)
    _run_jobs(other)
    with other.db.read_session() as session:
        found = service.public_incidents(session, published=None)
    assert len(found) == count
    if published:
        assert found[0].published_at is not None


def test_a_resolved_incident_is_prompted_or_resolved_publicly(
    runtime: Runtime,
    clock: FakeClock,
    tmp_path: Path,
    status_config_text: str,
    keeper: SnapshotKeeper,
) -> None:
    incident_id = _open(runtime, clock)
    _run_jobs(runtime)
    with runtime.db.session() as session, session.begin():
        [draft] = service.public_incidents(session, published=None)
        service.publish(session, code=draft.code, by="alice", now=clock.now())
        resolve(session, incident_id=incident_id, by="alice", now=clock.now())
    with runtime.db.read_session() as session:
        assert [p.code for p, _ in service.awaiting_resolution(session)] == [draft.code]
    # prompt (the default): nothing posts itself
    with runtime.db.session() as session, session.begin():
        assert service.public_incidents(session)[0].status == "investigating"
    other = _with(runtime, tmp_path, status_config_text, "  on_resolve: resolve\n")
    with other.db.session() as session, session.begin():
        assert resolve_followers(session, config=other.config, now=clock.now()) == 1
    with other.db.read_session() as session:
        assert service.awaiting_resolution(session) == []
    [public] = document(keeper, "/api/v2/incidents.json")["incidents"]
    assert public["status"] == "resolved"
    assert public["incident_updates"][0]["body"] == (
        "This incident has been resolved. Payments and API are working normally."
    )
