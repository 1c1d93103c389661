"""Timed TCP and TLS connections shared by the network probes (http, tcp, tls).

Each phase is timed on its own, like ``curl -w``: ``dns`` (getaddrinfo), ``connect``
(the TCP handshake), ``tls`` (the TLS handshake). Every connection is fresh, so the
timings are real ones, not a pooled connection's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import ssl
from functools import lru_cache
from pathlib import Path

from opsbook.checks.base import ProbeError, Stopwatch

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int, watch: Stopwatch) -> list[str]:
    """The addresses to try, in the resolver's order; records the ``dns`` phase."""
    if is_ip_address(host):
        # An address needs no lookup; skipping the resolver's thread hop keeps probes cheap.
        watch.lap("dns")
        return [host]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProbeError(
            "dns", f"cannot resolve {host}: {exc.strerror}", timings=watch.done()
        ) from None
    watch.lap("dns")
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def connect(host: str, port: int, watch: Stopwatch) -> Stream:
    """Resolve ``host`` and open a TCP connection; records ``dns`` and ``connect``."""
    addresses = await resolve(host, port, watch)
    problem: OSError | None = None
    for address in addresses:
        try:
            stream = await asyncio.open_connection(address, port, limit=2**20)
        except OSError as exc:
            problem = exc
            continue
        watch.lap("connect")
        return stream
    reason = _describe(problem) if problem else "no address"
    raise ProbeError("connect", f"cannot connect to {host}:{port}: {reason}", timings=watch.done())


async def start_tls(
    writer: asyncio.StreamWriter, context: ssl.SSLContext, server_name: str, watch: Stopwatch
) -> ssl.SSLObject:
    """Upgrade the connection; records ``tls``. An invalid certificate is a ``tls`` error."""
    hostname = None if is_ip_address(server_name) and not context.check_hostname else server_name
    try:
        await writer.start_tls(context, server_hostname=hostname)
    except ssl.SSLCertVerificationError as exc:
        raise ProbeError(
            "tls", f"certificate verify failed: {exc.verify_message}", timings=watch.done()
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise ProbeError("tls", f"TLS handshake failed: {exc}", timings=watch.done()) from None
    watch.lap("tls")
    ssl_object = writer.get_extra_info("ssl_object")
    assert isinstance(ssl_object, ssl.SSLObject)
    return ssl_object


async def close(writer: asyncio.StreamWriter) -> None:
    """Close at once, also when cancelled: a probe never waits on a peer's goodbye."""
    writer.transport.abort()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


def _describe(error: OSError) -> str:
    # asyncio words a refused connect "Connect call failed (addr)": say what the errno says.
    return os.strerror(error.errno) if error.errno else str(error)


@lru_cache(maxsize=256)
def client_context(*, verify: bool, check_hostname: bool, ca_file: Path | None) -> ssl.SSLContext:
    """One context per distinct setting: loading the trust store costs milliseconds."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.check_hostname = verify and check_hostname
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    return context
