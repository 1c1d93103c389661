"""Configuration of postmortems and action items (``postmortems:`` in opsbook.yaml)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import model_validator

from opsbook.config.defaults import Severity
from opsbook.config.values import ConfigModel, Duration, TargetRef, located_error, parse_duration


class ActionItemSettings(ConfigModel):
    """How overdue action items are reminded."""

    # A reminder goes out when an item passes its due date, then every `remind_every`
    # while it stays open; null: once.
    remind_every: Duration | None = parse_duration("7d")

    @model_validator(mode="after")
    def _positive(self) -> ActionItemSettings:
        if self.remind_every is not None and self.remind_every <= timedelta(0):
            raise located_error("remind_every", "remind_every", "must be longer than 0s")
        return self


class PostmortemSettings(ConfigModel):
    """When a postmortem is due, and whom its reminders reach.

    The seeds: "Post-Mortem: Document incident within 48 hours" of a P0/P1.
    """

    due_after: Duration = parse_duration("48h")
    required_for: tuple[Severity, ...] = ("P0", "P1")
    # None: channel:incidents when the file defines that channel, else recorded only.
    remind: tuple[TargetRef, ...] | None = None
    action_items: ActionItemSettings = ActionItemSettings()

    @model_validator(mode="after")
    def _positive(self) -> PostmortemSettings:
        if self.due_after <= timedelta(0):
            raise located_error("due_after", "due_after", "must be longer than 0s")
        return self
