from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from checks_fakes import result
from sqlalchemy import select

from opsbook.checks.models import CheckTransitionRecord
from opsbook.checks.result import CheckStatus
from opsbook.checks.service import list_states, record_results
from opsbook.checks.state import (
    TRANSITIONS,
    CheckState,
    Thresholds,
    Transition,
    TransitionNotAllowed,
    advance,
)
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database


def _statuses(outcomes: str, thresholds: Thresholds) -> list[CheckStatus]:
    """Feed results ('+' ok, '-' failed, '?' unknown) and list the status after each."""
    state, start, seen = CheckState(), datetime(2026, 1, 1).astimezone(), []
    for i, outcome in enumerate(outcomes):
        status: CheckStatus = {"+": "up", "-": "down", "?": "unknown"}[outcome]  # type: ignore[assignment]
        state, _ = advance(
            state,
            result("api", start + timedelta(minutes=i), ok=outcome == "+", status=status),
            thresholds,
        )
        seen.append(state.status)
    return seen


def test_the_first_result_decides_at_once() -> None:
    assert _statuses("-", Thresholds(fail_after=3)) == ["down"]
    assert _statuses("+", Thresholds(recover_after=3)) == ["up"]


def test_fail_after_consecutive_failures_and_recover_after_consecutive_successes() -> None:
    assert _statuses("+--+---++", Thresholds(fail_after=3, recover_after=2)) == [
        "up", "up", "up", "up", "up", "up", "down", "down", "up",
    ]  # fmt: skip
    assert _statuses("-+-++", Thresholds(recover_after=2)) == [
        "down", "down", "down", "down", "up",
    ]  # fmt: skip


def test_unknown_moves_to_unknown_without_counting_as_a_failure() -> None:
    # Two failures, an unknown, one failure: three failures in a row would go down,
    # but the unknown neither counts nor breaks the streak; it moves to unknown, and
    # the next real result decides again at once.
    assert _statuses("+--?", Thresholds(fail_after=3)) == ["up", "up", "up", "unknown"]
    assert _statuses("+??+", Thresholds(fail_after=3)) == ["up", "unknown", "unknown", "up"]


def test_the_table_covers_every_pair_and_rejects_others() -> None:
    for status in ("up", "down", "unknown"):
        for outcome in ("success", "failure", "unknown"):
            assert (status, outcome) in TRANSITIONS
    with pytest.raises(TransitionNotAllowed):
        advance(
            CheckState(status="sideways"), result("api", datetime.now().astimezone()), Thresholds()
        )  # type: ignore[arg-type]


def test_transitions_are_stored_and_states_listed(db: Database, clock: FakeClock) -> None:
    start = clock.now()
    outcomes = [True, False, False, False, True, True]
    transitions: list[Transition] = []
    for i, ok in enumerate(outcomes):
        with db.session() as session, session.begin():
            transitions += record_results(
                session,
                results=[result("api", start + timedelta(minutes=i), ok=ok)],
                now=start + timedelta(minutes=i),
                thresholds={"api": Thresholds(fail_after=3, recover_after=2)},
            )
    assert [(t.from_status, t.to_status, t.at - start) for t in transitions] == [
        ("unknown", "up", timedelta(0)),
        ("up", "down", timedelta(minutes=3)),
        ("down", "up", timedelta(minutes=5)),
    ]
    assert transitions[1].reason is not None
    assert transitions[1].reason.code == "status"
    with db.read_session() as session:
        stored = session.scalars(select(CheckTransitionRecord).order_by(CheckTransitionRecord.at))
        assert [(r.from_status, r.to_status, r.reason_code) for r in stored] == [
            ("unknown", "up", None),
            ("up", "down", "status"),
            ("down", "up", None),
        ]
        [state] = list_states(session)
    assert (state.check, state.status, state.since) == ("api", "up", start + timedelta(minutes=5))
    assert (state.consecutive_successes, state.last_ok) == (2, True)


def test_a_batch_with_several_results_of_one_check_applies_them_in_order(
    db: Database, clock: FakeClock
) -> None:
    start = clock.now()
    batch = [result("api", start + timedelta(seconds=s), ok=False) for s in (20, 0, 10)]
    with db.session() as session, session.begin():
        transitions = record_results(
            session, results=batch, now=start, thresholds={"api": Thresholds(fail_after=2)}
        )
    assert [(t.to_status, t.at) for t in transitions] == [("down", start)]
    with db.read_session() as session:
        [state] = list_states(session)
    assert (state.consecutive_failures, state.last_run_at) == (3, start + timedelta(seconds=20))
