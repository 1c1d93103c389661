from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from incidents_support import open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.incidents import (
    STATUSES,
    TRANSITIONS,
    TransitionNotAllowed,
    get_incident,
    set_status,
    timeline,
)
from opsbook.incidents.state import check_transition

ALLOWED = [(a, b) for a in STATUSES for b in TRANSITIONS[a]]
REJECTED = [(a, b) for a in STATUSES for b in STATUSES if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "requested"), ALLOWED)
def test_the_table_allows_its_moves(current: str, requested: str) -> None:
    assert check_transition(current, requested) == requested


@pytest.mark.parametrize(("current", "requested"), REJECTED)
def test_the_table_rejects_every_other_move_naming_the_allowed_ones(
    current: str, requested: str
) -> None:
    with pytest.raises(TransitionNotAllowed) as raised:
        check_transition(current, requested)
    message = str(raised.value)
    assert f"from {current} to {requested}" in message
    for allowed in TRANSITIONS[current]:  # type: ignore[index]
        assert allowed in message.split("allowed from")[1]


def test_main_path_skips_and_reopen_are_in_the_table() -> None:
    path = list(STATUSES)
    for current, following in itertools.pairwise(path):
        assert following in TRANSITIONS[current]  # type: ignore[index]
    assert "resolved" in TRANSITIONS["triggered"]
    assert "investigating" in TRANSITIONS["resolved"]
    assert TRANSITIONS["closed"] == ()


def test_closed_is_final_and_says_so() -> None:
    with pytest.raises(TransitionNotAllowed, match="none, closed is final"):
        check_transition("closed", "investigating")


def test_unknown_status_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown status 'fixed'"):
        check_transition("triggered", "fixed")


def test_each_transition_is_recorded_with_who_and_when(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    steps = [
        ("investigating", "rita"),
        ("identified", "alice"),
        ("mitigated", "rita"),
        ("resolved", "alice"),
        ("closed", "alice"),
    ]
    for to, who in steps:
        clock.advance(timedelta(minutes=7))
        with db.session() as session, session.begin():
            set_status(
                session, config=config, incident_id=incident.id, to=to, by=who, now=clock.now()
            )
    with db.session() as session:
        changes = timeline(session, incident_id=incident.id, kinds={"status_changed"})
        acked = timeline(session, incident_id=incident.id, kinds={"acknowledged"})
        final = get_incident(session, incident_id=incident.id)
    start = incident.triggered_at
    assert [(e.data["from"], e.data["to"], e.actor) for e in changes] == [
        ("triggered", "investigating", "rita"),
        ("investigating", "identified", "alice"),
        ("identified", "mitigated", "rita"),
        ("mitigated", "resolved", "alice"),
        ("resolved", "closed", "alice"),
    ]
    assert [e.at - start for e in changes] == [timedelta(minutes=7 * n) for n in range(1, 6)]
    # Starting to investigate is a response: it acknowledges.
    assert [(e.actor, e.at - start) for e in acked] == [("rita", timedelta(minutes=7))]
    assert final.acknowledged_at == start + timedelta(minutes=7)
    assert final.mitigated_at == start + timedelta(minutes=21)
    assert final.resolved_at == start + timedelta(minutes=28)
    assert final.closed_at == start + timedelta(minutes=35)


def test_a_rejected_transition_changes_nothing(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    incident = open_one(db, clock, config)
    with db.session() as session, session.begin(), pytest.raises(TransitionNotAllowed):
        set_status(
            session, config=config, incident_id=incident.id, to="closed", by="a", now=clock.now()
        )
    with db.session() as session:
        assert timeline(session, incident_id=incident.id, kinds={"status_changed"}) == []
