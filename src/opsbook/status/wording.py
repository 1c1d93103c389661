"""Message templates for the common public updates (``status_page.wording``)."""

from __future__ import annotations

from collections.abc import Sequence

from opsbook.config import OpsbookConfig
from opsbook.status.config import StatusPageConfig


def component_phrase(names: Sequence[str]) -> str:
    """``Checkout``, ``Checkout and API``, ``Website, Checkout and API``; none: our services."""
    names = list(dict.fromkeys(names))
    if not names:
        return "our services"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def fill(template: str, *, config: OpsbookConfig, component_names: Sequence[str]) -> str:
    """Replace ``{components}`` and ``{service}``; other braces are left as written."""
    return template.replace("{components}", component_phrase(component_names)).replace(
        "{service}", config.service.name
    )


def message_for(
    status: str, *, config: OpsbookConfig, page: StatusPageConfig, component_names: Sequence[str]
) -> str:
    """The configured wording of an update in ``status``."""
    return fill(page.wording.for_status(status), config=config, component_names=component_names)


def title_for(
    *, config: OpsbookConfig, page: StatusPageConfig, component_names: Sequence[str]
) -> str:
    return fill(page.wording.title, config=config, component_names=component_names)
