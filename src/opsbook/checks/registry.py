"""Probe kinds by the key opsbook.yaml uses for them (``checks[N].http``, ...).

Adding a kind: a folder ``opsbook/checks/<kind>/`` with ``config.py`` and ``probe.py``,
one line here, one field in :class:`opsbook.checks.config.CheckConfig`, a test named after
it in ``tests/checks/probes/`` and a section in ``docs/checks.md``
(``tests/checks/probes/test_probe_registry.py`` checks them). ``heartbeat`` is a kind
of check but not a probe: the watched job calls Opsbook, not the other way round.
"""

from __future__ import annotations

from typing import Final

from opsbook.checks.base import Probe
from opsbook.checks.command.probe import CommandProbe
from opsbook.checks.dns.probe import DnsProbe
from opsbook.checks.http.probe import HttpProbe
from opsbook.checks.postgres.probe import PostgresProbe
from opsbook.checks.tcp.probe import TcpProbe
from opsbook.checks.tls.probe import TlsProbe

PROBE_KINDS: Final[dict[str, type[Probe]]] = {
    "http": HttpProbe,
    "tcp": TcpProbe,
    "tls": TlsProbe,
    "dns": DnsProbe,
    "postgres": PostgresProbe,
    "command": CommandProbe,
}
