"""The postmortem's and the action item's statuses, written down as data.

A postmortem is written (``draft``, optionally ``in_review``), then ``published``: the
write-up is final and shared, which satisfies its due date.  It is ``closed`` once its
follow-up is finished too, i.e. every action item is done or cancelled.  A published
postmortem can go back to ``draft`` to be amended; ``closed`` is final.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

PostmortemStatus = Literal["draft", "in_review", "published", "closed"]
POSTMORTEM_STATUSES: Final[tuple[PostmortemStatus, ...]] = get_args(PostmortemStatus)
POSTMORTEM_TRANSITIONS: Final[dict[PostmortemStatus, tuple[PostmortemStatus, ...]]] = {
    "draft": ("in_review", "published"),
    "in_review": ("draft", "published"),
    "published": ("draft", "closed"),
    "closed": (),
}
# Sections can be edited in these statuses; a published postmortem is amended via draft.
EDITABLE: Final[frozenset[PostmortemStatus]] = frozenset({"draft", "in_review"})

ActionItemStatus = Literal["open", "in_progress", "done", "cancelled"]
ACTION_ITEM_STATUSES: Final[tuple[ActionItemStatus, ...]] = get_args(ActionItemStatus)
ACTION_ITEM_TRANSITIONS: Final[dict[ActionItemStatus, tuple[ActionItemStatus, ...]]] = {
    "open": ("in_progress", "done", "cancelled"),
    "in_progress": ("open", "done", "cancelled"),
    # Back to open: the fix did not hold, or the cancellation was a mistake.
    "done": ("open",),
    "cancelled": ("open",),
}
# Items in these statuses are still work to do: they can be overdue and are reminded.
ACTION_ITEM_OPEN: Final[frozenset[ActionItemStatus]] = frozenset({"open", "in_progress"})


def allowed_next(table: Mapping[Any, tuple[str, ...]], current: str) -> tuple[str, ...]:
    return table.get(current, ())


def describe_refusal(
    thing: str, table: Mapping[Any, tuple[str, ...]], current: str, to: str
) -> str:
    allowed = allowed_next(table, current)
    options = ", ".join(allowed) if allowed else f"none, {current} is final"
    return f"a {thing} cannot go from {current} to {to} (allowed from {current}: {options})"
