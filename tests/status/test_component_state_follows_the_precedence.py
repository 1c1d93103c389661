"""A component's state: override > public incident > maintenance > checks and incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from status_support import component_statuses, record

from opsbook.core.clock import FakeClock
from opsbook.incidents import open_incident
from opsbook.runtime import Runtime
from opsbook.status import service
from opsbook.status.components import Inputs, decide, from_checks, indicator
from opsbook.status.snapshot import SnapshotKeeper


@pytest.mark.parametrize(
    ("inputs", "status", "source"),
    [
        (Inputs(), "operational", "default"),
        (Inputs(checks=["up", "down"]), "partial_outage", "derived"),
        (Inputs(checks=["down", "down"]), "major_outage", "derived"),
        (Inputs(checks=["unknown"]), "operational", "default"),
        (
            Inputs(checks=["up"], internal_incidents=["degraded_performance"]),
            "degraded_performance",
            "derived",
        ),
        (Inputs(checks=["down"], maintenance=True), "under_maintenance", "maintenance"),
        (
            Inputs(maintenance=True, public_incident=["partial_outage"]),
            "partial_outage",
            "public_incident",
        ),
        (
            Inputs(public_incident=["degraded_performance", "major_outage"]),
            "major_outage",
            "public_incident",
        ),
        (
            Inputs(override="operational", public_incident=["major_outage"], checks=["down"]),
            "operational",
            "override",
        ),
    ],
)
def test_the_first_source_that_speaks_decides(inputs: Inputs, status: str, source: str) -> None:
    decision = decide(inputs)
    assert (decision.status, decision.source) == (status, source)


def test_checks_that_never_ran_say_nothing() -> None:
    assert from_checks([]) is None
    assert from_checks(["unknown", "unknown"]) is None


def test_the_page_indicator_is_the_worst_of_components_and_open_impacts() -> None:
    assert indicator(["operational"]) == "none"
    assert indicator(["operational", "under_maintenance"]) == "maintenance"
    assert indicator(["degraded_performance", "under_maintenance"]) == "minor"
    assert indicator(["operational"], ["major"]) == "major"
    assert indicator(["major_outage"], ["minor"]) == "critical"


def test_each_source_in_turn_on_a_real_database(
    runtime: Runtime, clock: FakeClock, keeper: SnapshotKeeper
) -> None:
    config = runtime.config
    now = clock.now()
    record(runtime, "web-home", ok=False, at=now)
    record(runtime, "web-login", ok=True, at=now)
    record(runtime, "api-health", ok=False, at=now)
    assert component_statuses(keeper) == {
        "website": "partial_outage",
        "payments": "operational",
        "api": "major_outage",
    }
    with runtime.db.session() as session, session.begin():
        open_incident(
            session,
            config=config,
            title="Fees fail",
            severity="P2",
            by="alice",
            now=now,
            components=["Payments"],
        )
        service.schedule_maintenance(
            session,
            config=config,
            name="DB upgrade",
            starts=now - timedelta(minutes=1),
            ends=now + timedelta(hours=1),
            components=["api"],
            body="Upgrading the database.",
            by="alice",
            now=now,
        )
    assert component_statuses(keeper)["payments"] == "degraded_performance"
    assert component_statuses(keeper)["api"] == "under_maintenance"
    with runtime.db.session() as session, session.begin():
        service.open_public_incident(
            session,
            name="API errors",
            status="identified",
            body="A bad deploy.",
            component_statuses={"api": "partial_outage"},
            by="alice",
            now=now,
        )
        service.set_override(
            session,
            config=config,
            component="Website",
            status="operational",
            by="alice",
            now=now,
            expires_at=now + timedelta(minutes=30),
        )
    assert component_statuses(keeper) == {
        "website": "operational",
        "payments": "degraded_performance",
        "api": "partial_outage",
    }
    clock.advance(timedelta(minutes=31))
    assert component_statuses(keeper)["website"] == "partial_outage"  # the override expired
