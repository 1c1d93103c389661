"""The ``status_page:`` section of opsbook.yaml: branding, automation, wording, subscribers."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from opsbook.config.values import (
    ConfigModel,
    Duration,
    HttpURL,
    Slug,
    Text,
    describe,
    located_error,
    parse_duration,
)

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
COMPONENT_STATUSES: Final[tuple[ComponentStatus, ...]] = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
PublicStatus = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
PUBLIC_STATUSES: Final[tuple[PublicStatus, ...]] = (
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
)
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _validate_colour(value: object) -> str:
    if isinstance(value, str) and _HEX.fullmatch(value.strip()):
        return value.strip().lower()
    raise PydanticCustomError(
        "colour", f"expected a colour like #1a7f37 (six hex digits), got {describe(value)}"
    )


Colour = Annotated[str, PlainValidator(_validate_colour, json_schema_input_type=str)]


class Colours(ConfigModel):
    """The page's colours; text on each is picked black or white for contrast."""

    header: Colour = "#14213d"
    accent: Colour = "#0969da"
    operational: Colour = "#1a7f37"
    degraded_performance: Colour = "#9a6700"
    partial_outage: Colour = "#bc4c00"
    major_outage: Colour = "#cf222e"
    under_maintenance: Colour = "#0969da"


def _default_templates() -> dict[str, str]:
    return {
        "investigating": "We are investigating reports of problems with {components}. "
        "We will post an update within 30 minutes.",
        "identified": "The cause has been identified and a fix is being put in place.",
        "monitoring": "A fix has been put in place and we are monitoring the results.",
        "resolved": "This incident has been resolved. {components} are working normally.",
        "postmortem": "We have published a postmortem of this incident.",
    }


class Wording(ConfigModel):
    """Message templates for the common public updates.

    ``{components}`` is replaced by the affected components' names ("Checkout and API",
    or "our services" when none are named) and ``{service}`` by ``service.name``.
    """

    title: Text = "Problems with {components}"
    investigating: Text = _default_templates()["investigating"]
    identified: Text = _default_templates()["identified"]
    monitoring: Text = _default_templates()["monitoring"]
    resolved: Text = _default_templates()["resolved"]
    postmortem: Text = _default_templates()["postmortem"]

    def for_status(self, status: str) -> str:
        text: str = getattr(self, status)
        return text


class SubscriberSettings(ConfigModel):
    """Who may subscribe to updates, and through which channel mail goes out."""

    # The email channel (channels[].name, kind email) whose SMTP server sends subscriber
    # mail; None: email subscriptions are off and the form is not shown.
    email_channel: Slug | None = None
    # The public form: at most this many sign-ups per client address per window.
    max_signups_per_address: int = Field(default=5, ge=1)
    signup_window: Duration = parse_duration("10m")
    # How long a confirmation link stays valid.
    confirm_within: Duration = parse_duration("2d")


class StatusPageConfig(ConfigModel):
    """The public status page: what it shows, how it looks, and what Opsbook does itself."""

    # The page's title; default service.name.
    name: Text | None = None
    # Where people reach the page (links in feeds, mails, shortlinks); default
    # settings.public_url + /status.
    url: HttpURL | None = None
    logo_url: HttpURL | None = None
    logo_alt: Text | None = None
    colours: Colours = Colours()
    # An incident's status_page target (P0 and P1 by default): prepare a draft for a
    # person to publish, publish at once, or do nothing.
    on_incident: Literal["draft", "publish", "ignore"] = "draft"
    # When the internal incident is resolved: ask a person on the dashboard, or post the
    # resolved update automatically.
    on_resolve: Literal["prompt", "resolve"] = "prompt"
    # Impact on a component of an open internal incident naming it, by severity.
    incident_impact: dict[Literal["P0", "P1", "P2", "P3"], ComponentStatus] = {
        "P0": "major_outage",
        "P1": "partial_outage",
        "P2": "degraded_performance",
        "P3": "operational",
    }
    wording: Wording = Wording()
    subscribers: SubscriberSettings = SubscriberSettings()
    # Past incidents per history page.
    history_per_page: int = Field(default=10, ge=1, le=100)
    # The snapshot is rebuilt at most this often (changes within it are batched) and at
    # least this often while nothing changes (uptime of today moves on).
    rebuild_debounce: Duration = parse_duration("1s")
    refresh_every: Duration = parse_duration("5m")

    @model_validator(mode="after")
    def _refresh_after_debounce(self) -> StatusPageConfig:
        if self.refresh_every < self.rebuild_debounce:
            raise located_error(
                "refresh_every", "refresh_every", "must not be shorter than rebuild_debounce"
            )
        return self
