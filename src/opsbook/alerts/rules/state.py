"""The state of one (rule, series), stepped once per evaluation: a table of data.

``inactive → pending → firing → resolved``, as Prometheus's alerting rules:

- a series whose comparison holds is *active*; one that does not, or that the
  expression no longer returns, is *quiet*;
- active from inactive (or resolved) starts ``pending`` at this evaluation, or goes
  straight to ``firing`` when ``for`` is 0;
- pending fires at the first evaluation at which it has been active for ``for``;
  quiet while pending goes back to inactive (the row is deleted);
- firing and quiet stays firing while the series was last active less than
  ``keep_firing_for`` ago, then resolves;
- resolved rows are kept :data:`KEEP_RESOLVED` for the record, then deleted.

Each step says what to tell the alert pipeline: ``fire`` (a new or refreshed firing
alert) or ``resolve``; re-sending a firing alert is decided by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

RuleState = Literal["inactive", "pending", "firing", "resolved"]
Observation = Literal["active", "quiet"]
Guard = Literal["always", "for_elapsed", "keeping"]
Send = Literal["fire", "resolve"] | None

KEEP_RESOLVED: Final = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Step:
    """Go to ``to`` when ``guard`` holds, telling the pipeline ``send``."""

    to: RuleState
    guard: Guard = "always"
    send: Send = None


# (state, observation) -> the steps to try, first whose guard holds wins.
TRANSITIONS: Final[dict[tuple[RuleState, Observation], tuple[Step, ...]]] = {
    ("inactive", "active"): (Step("firing", "for_elapsed", "fire"), Step("pending")),
    ("inactive", "quiet"): (Step("inactive"),),
    ("pending", "active"): (Step("firing", "for_elapsed", "fire"), Step("pending")),
    ("pending", "quiet"): (Step("inactive"),),
    ("firing", "active"): (Step("firing"),),
    ("firing", "quiet"): (Step("firing", "keeping"), Step("resolved", send="resolve")),
    ("resolved", "active"): (Step("firing", "for_elapsed", "fire"), Step("pending")),
    ("resolved", "quiet"): (Step("resolved"),),
}


@dataclass(frozen=True, slots=True)
class SeriesState:
    state: RuleState = "inactive"
    active_since: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    last_active_at: datetime | None = None
    last_evaluated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """A rule's ``for`` and ``keep_firing_for``, and how long an evaluation gap may be.

    A pending series whose previous evaluation is older than ``outage_tolerance`` (the
    workers were down) starts its ``for`` again: nobody watched the condition meanwhile.
    """

    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    outage_tolerance: timedelta = timedelta(hours=1)


def _holds(guard: Guard, state: SeriesState, *, now: datetime, timing: Timing) -> bool:
    if guard == "always":
        return True
    if guard == "for_elapsed":
        assert state.active_since is not None
        return now - state.active_since >= timing.for_
    assert state.last_active_at is not None
    return now - state.last_active_at < timing.keep_firing_for


def advance(
    state: SeriesState, observation: Observation, *, now: datetime, timing: Timing
) -> tuple[SeriesState, Send]:
    """One evaluation of one series: the new state and what to tell the pipeline."""
    current = state
    if observation == "active":
        restarts = current.state in ("inactive", "resolved") or (
            current.state == "pending"
            and current.last_evaluated_at is not None
            and now - current.last_evaluated_at > timing.outage_tolerance
        )
        current = replace(
            current,
            active_since=now if restarts else current.active_since,
            last_active_at=now,
        )
    for step in TRANSITIONS[(state.state, observation)]:
        if not _holds(step.guard, current, now=now, timing=timing):
            continue
        moved = replace(current, state=step.to, last_evaluated_at=now)
        if step.to == "firing" and state.state != "firing":
            moved = replace(moved, fired_at=now, resolved_at=None)
        elif step.to == "resolved" and state.state != "resolved":
            moved = replace(moved, resolved_at=now)
        elif step.to == "inactive":
            moved = SeriesState(last_evaluated_at=now)
        return moved, step.send
    raise AssertionError("unreachable: every row of TRANSITIONS ends with an unguarded step")
