"""What the incident service raises; adapters map these to 4xx answers and exit codes."""

from __future__ import annotations

from opsbook.incidents.state import TransitionNotAllowed


class IncidentError(ValueError):
    """A request the incident's current state or the input does not allow."""


class IncidentNotFound(LookupError):
    pass


class Conflict(IncidentError):
    """Someone else changed the incident since the caller read it (optimistic locking)."""

    def __init__(self, incident_id: int, expected: int | None, actual: int | None) -> None:
        seen = f"version {expected}" if expected is not None else "it"
        now = f" (now at version {actual})" if actual is not None else ""
        super().__init__(
            f"incident {incident_id} was changed by someone else since you read {seen}{now}; "
            "reload it and try again"
        )
        self.incident_id = incident_id
        self.expected = expected
        self.actual = actual


__all__ = ["Conflict", "IncidentError", "IncidentNotFound", "TransitionNotAllowed"]
