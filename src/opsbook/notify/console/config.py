"""Configuration of the console channel."""

from typing import Literal

from opsbook.config.values import ConfigModel, Slug


class ConsoleChannelConfig(ConfigModel):
    """Prints each notification on standard output; needs no setup, useful to try things out."""

    name: Slug
    kind: Literal["console"]
