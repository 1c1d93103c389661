"""Credentials of the machine-facing endpoints: what Prometheus and Alertmanager can send.

Prometheus' ``alertmanagers`` config (and Alertmanager's ``webhook_config``) send either
``Authorization: Bearer <token>`` or HTTP basic auth; with basic auth the *password* is
the Opsbook API token (the user name is ignored).  A looked-up token is remembered for
``CACHE_FOR``, so an alert stream does not read the tokens table per request; a revoked
token stops working within that time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opsbook.core import auth
from opsbook.core.auth import Principal

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

CACHE_FOR = 10.0
_CACHE_SIZE = 1024


def credentials(authorization: str) -> str | None:
    """The token in an ``Authorization`` header (bearer, or basic auth's password)."""
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        return value.strip()
    if scheme == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return password or user or None
    return None


class TokenCache:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def _lookup(self, token: str) -> Principal | None:
        runtime = self.runtime
        now = runtime.clock.now()
        with runtime.db.read_session() as session:
            found = auth.authenticate_token(session, token, now=now)
        if found is None:
            return None
        principal, stale = found
        if stale:
            with runtime.db.session() as session, session.begin():
                auth.touch_token(session, name=principal.name, now=now)
        return principal

    async def principal(self, headers: Mapping[str, str]) -> Principal | None:
        token = credentials(headers.get("authorization", ""))
        if token is None:
            return None
        cached = self._cache.get(token)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        principal = await asyncio.to_thread(self._lookup, token)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[token] = (time.monotonic() + CACHE_FOR, principal)
        return principal
