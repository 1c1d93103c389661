"""The incident lifecycle, written down as data.

The main path is ``triggered → acknowledged → investigating → identified → mitigated →
resolved → closed``.  Real incidents skip steps (a responder starts investigating without
pressing "ack"; an alert resolves itself before anyone looks) and go back (the mitigation
did not hold; the incident recurs after it was resolved), so those moves are in the
table too.  ``closed`` is final: a recurrence after closing is a new incident.
docs/incidents.md shows the same table.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Status = Literal[
    "triggered",
    "acknowledged",
    "investigating",
    "identified",
    "mitigated",
    "resolved",
    "closed",
]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
OPEN_STATUSES: Final[frozenset[Status]] = frozenset(STATUSES[:5])

# current status -> the statuses it may move to.  A missing pair is not allowed.
TRANSITIONS: Final[dict[Status, tuple[Status, ...]]] = {
    "triggered": ("acknowledged", "investigating", "identified", "mitigated", "resolved"),
    # Back to triggered: the acknowledgement timed out (on-call's re-trigger), or a
    # responder hands the incident back to be paged again.
    "acknowledged": ("triggered", "investigating", "identified", "mitigated", "resolved"),
    "investigating": ("identified", "mitigated", "resolved"),
    # Back to investigating: the suspected cause was wrong.
    "identified": ("investigating", "mitigated", "resolved"),
    # Back to investigating or identified: the mitigation did not hold.
    "mitigated": ("investigating", "identified", "resolved"),
    # Back to investigating: a reopen, when the problem comes back before closing.
    "resolved": ("investigating", "closed"),
    "closed": (),
}


class TransitionNotAllowed(ValueError):
    """The table does not allow this move; the message names the allowed next states."""

    def __init__(self, current: str, requested: str) -> None:
        allowed = TRANSITIONS.get(current, ())  # type: ignore[call-overload]
        options = ", ".join(allowed) if allowed else f"none, {current} is final"
        super().__init__(
            f"an incident cannot go from {current} to {requested} (allowed from {current}: "
            f"{options})"
        )
        self.current = current
        self.requested = requested
        self.allowed: tuple[str, ...] = tuple(allowed)


def check_transition(current: str, requested: str) -> Status:
    """Return ``requested`` as a Status when the table allows it; raise otherwise."""
    if requested not in STATUSES:
        raise ValueError(f"unknown status {requested!r}; expected one of {', '.join(STATUSES)}")
    if requested not in TRANSITIONS.get(current, ()):  # type: ignore[call-overload]
        raise TransitionNotAllowed(current, requested)
    return requested


def is_reopen(current: str, requested: str) -> bool:
    return current == "resolved" and requested in OPEN_STATUSES
