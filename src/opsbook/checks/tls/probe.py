"""The tls probe: handshake, read the chain, judge expiry, trust and name separately."""

from __future__ import annotations

import asyncio
from typing import Any

from opsbook.checks.base import Probe, ProbeError, Stopwatch, no_answer_within
from opsbook.checks.network import client_context, close, connect, start_tls
from opsbook.checks.result import Observation
from opsbook.checks.tls.certificates import describe_chain, hostname_matches, peer_chain
from opsbook.checks.tls.config import TlsCheckConfig


class TlsProbe(Probe):
    """Values under ``tls``: ``days_left`` (leaf), ``chain_days_left`` (earliest in the
    chain), ``hostname_match``, ``chain_valid`` (with ``verify_error``), ``version``,
    ``issuer``, ``subject``, ``not_after``.

    The chain is verified with hostname checking off, and the name matched on its own, so
    an expired intermediate and a wrong name are told apart. An untrusted chain is read
    again over an unverified handshake, so its expiry is still reported.
    """

    kind = "tls"
    config_model = TlsCheckConfig

    def __init__(self, config: TlsCheckConfig) -> None:
        super().__init__(config)
        self.config: TlsCheckConfig = config
        self.server_name = config.server_name or config.host

    def implicit_conditions(self) -> tuple[str, ...]:
        conditions: list[str] = []
        if self.config.verify:
            conditions += ["tls.chain_valid == true", "tls.hostname_match == true"]
        if self.config.min_days is not None:
            conditions += [
                f"tls.days_left >= {self.config.min_days}",
                f"tls.chain_days_left >= {self.config.min_days}",
            ]
        return tuple(conditions)

    def reason_code(self, condition: str) -> str:
        return "tls"

    async def observe(self, *, timeout: float) -> Observation:
        watch = Stopwatch()
        try:
            async with asyncio.timeout(timeout):
                return await self._observe(watch)
        except TimeoutError:
            raise ProbeError("timeout", no_answer_within(timeout), timings=watch.done()) from None

    async def _observe(self, watch: Stopwatch) -> Observation:
        verify_error: str | None = None
        if self.config.verify:
            try:
                values = await self._handshake(watch, verified=True)
            except ProbeError as exc:
                if not exc.message.startswith("certificate verify failed"):
                    raise
                verify_error = exc.message.removeprefix("certificate verify failed: ")
                watch = Stopwatch()  # time the handshake that succeeds
        if not self.config.verify or verify_error is not None:
            values = await self._handshake(watch, verified=False)
        values["chain_valid"] = verify_error is None and self.config.verify
        if verify_error is not None:
            values["verify_error"] = verify_error
        return Observation(values={"tls": values}, timings=watch.done())

    async def _handshake(self, watch: Stopwatch, *, verified: bool) -> dict[str, Any]:
        context = client_context(verify=verified, check_hostname=False, ca_file=self.config.ca_file)
        _, writer = await connect(self.config.host, self.config.port, watch)
        try:
            ssl_object = await start_tls(writer, context, self.server_name, watch)
            chain = peer_chain(ssl_object, verified=verified)
            values = describe_chain(chain)
            values["version"] = ssl_object.version()
            values["hostname_match"] = bool(chain) and hostname_matches(chain[0], self.server_name)
            return values
        finally:
            await close(writer)
