"""``opsbook incident``: the commands live in :mod:`.incident` and :mod:`.record`.

Importing them registers them on :data:`incident_app` (Typer's decorators).
"""

from opsbook.incidents.cli import incident, record
from opsbook.incidents.cli.common import incident_app

__all__ = ["incident", "incident_app", "record"]
