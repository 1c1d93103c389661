"""The (rule, series) state machine, step by step, as the table in rules/state.py says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbook.alerts.rules.state import TRANSITIONS, SeriesState, Timing, advance

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def steps(observations: str, timing: Timing) -> list[tuple[str, str | None]]:
    state, out = SeriesState(), []
    for index, mark in enumerate(observations):
        state, send = advance(
            state, "active" if mark == "A" else "quiet", now=T0 + index * MINUTE, timing=timing
        )
        out.append((state.state, send))
    return out


def test_every_state_and_observation_has_a_row() -> None:
    states = ("inactive", "pending", "firing", "resolved")
    assert set(TRANSITIONS) == {(s, o) for s in states for o in ("active", "quiet")}
    assert all(steps[-1].guard == "always" for steps in TRANSITIONS.values())


def test_for_zero_fires_at_the_first_evaluation_that_holds() -> None:
    assert steps("AAq", Timing()) == [("firing", "fire"), ("firing", None), ("resolved", "resolve")]


def test_pending_fires_once_active_for_the_whole_for() -> None:
    got = steps("AAAq", Timing(for_=2 * MINUTE))
    assert got == [
        ("pending", None),
        ("pending", None),
        ("firing", "fire"),
        ("resolved", "resolve"),
    ]


def test_a_quiet_evaluation_while_pending_starts_over() -> None:
    got = steps("AqAAA", Timing(for_=2 * MINUTE))
    assert [s for s, _ in got] == ["pending", "inactive", "pending", "pending", "firing"]


def test_keep_firing_for_bridges_short_gaps() -> None:
    got = steps("AqqqA", Timing(keep_firing_for=2 * MINUTE))
    assert [s for s, _ in got] == ["firing", "firing", "resolved", "resolved", "firing"]
    assert got[-1][1] == "fire", "firing again after resolving is a new alert"


def test_timestamps_record_the_life_of_an_alert() -> None:
    timing = Timing(for_=MINUTE)
    state = SeriesState()
    for index, mark in enumerate("AAAq"):
        state, _ = advance(
            state, "active" if mark == "A" else "quiet", now=T0 + index * MINUTE, timing=timing
        )
    assert state.active_since == T0
    assert state.fired_at == T0 + MINUTE
    assert state.resolved_at == T0 + 3 * MINUTE
    assert state.last_active_at == T0 + 2 * MINUTE
