"""Flap control: the check state machine, written down as data.

A check is ``unknown`` until its first result, which moves it straight to ``up`` or
``down``.  After that ``fail_after`` consecutive failures turn ``up`` into ``down`` and
``recover_after`` consecutive successes turn ``down`` into ``up``.  A result marked
``unknown`` (Opsbook's own canary is failing) moves any state to ``unknown`` and counts
as neither failure nor success, so a network loss at Opsbook pages no one; the next real
result then decides again at once, as a first result does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from opsbook.checks.result import CheckResult, CheckStatus, Reason

Outcome = Literal["success", "failure", "unknown"]
Streak = Literal["failures", "successes"] | None


@dataclass(frozen=True, slots=True)
class Rule:
    """Go to ``to`` once the named consecutive ``streak`` reaches its threshold (None: at once)."""

    to: CheckStatus
    streak: Streak = None


# (current status, outcome of the new result) -> rule.  A missing pair is not allowed.
TRANSITIONS: dict[tuple[CheckStatus, Outcome], Rule] = {
    ("unknown", "success"): Rule("up"),
    ("unknown", "failure"): Rule("down"),
    ("unknown", "unknown"): Rule("unknown"),
    ("up", "success"): Rule("up"),
    ("up", "failure"): Rule("down", streak="failures"),
    ("up", "unknown"): Rule("unknown"),
    ("down", "failure"): Rule("down"),
    ("down", "success"): Rule("up", streak="successes"),
    ("down", "unknown"): Rule("unknown"),
}


class TransitionNotAllowed(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Thresholds:
    fail_after: int = 1
    recover_after: int = 1


@dataclass(frozen=True, slots=True)
class CheckState:
    status: CheckStatus = "unknown"
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A check's status changed; stored as a ``check_transitions`` row and sent in-process."""

    check: str
    at: datetime
    from_status: CheckStatus
    to_status: CheckStatus
    reason: Reason | None


def outcome_of(result: CheckResult) -> Outcome:
    if result.status == "unknown":
        return "unknown"
    return "success" if result.ok else "failure"


def advance(
    state: CheckState, result: CheckResult, thresholds: Thresholds
) -> tuple[CheckState, Transition | None]:
    """Apply one result; returns the new state and the transition it caused, if any.

    >>> state, transition = advance(CheckState(), failed_result, Thresholds(fail_after=3))
    >>> state.status, transition.to_status
    ('down', 'down')
    """
    outcome = outcome_of(result)
    rule = TRANSITIONS.get((state.status, outcome))
    if rule is None:
        raise TransitionNotAllowed(f"no transition from {state.status!r} on a {outcome} result")
    failures, successes = state.consecutive_failures, state.consecutive_successes
    if outcome == "failure":
        failures, successes = failures + 1, 0
    elif outcome == "success":
        failures, successes = 0, successes + 1
    streak = {"failures": failures, "successes": successes}
    needed = {"failures": thresholds.fail_after, "successes": thresholds.recover_after}
    reached = rule.streak is None or streak[rule.streak] >= needed[rule.streak]
    to_status = rule.to if reached else state.status
    new_state = replace(state, consecutive_failures=failures, consecutive_successes=successes)
    if to_status == state.status:
        return new_state, None
    transition = Transition(
        check=result.check,
        at=result.started_at,
        from_status=state.status,
        to_status=to_status,
        reason=result.reason,
    )
    return replace(new_state, status=to_status, since=result.started_at), transition
