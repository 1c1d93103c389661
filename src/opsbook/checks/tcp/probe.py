"""The tcp probe: connect, optionally send, optionally wait for an expected answer."""

from __future__ import annotations

import asyncio
import time

from opsbook.checks.base import Probe, ProbeError, Stopwatch, no_answer_within
from opsbook.checks.conditions import quote
from opsbook.checks.network import close, connect
from opsbook.checks.result import Observation
from opsbook.checks.tcp.config import TcpCheckConfig

_RECEIVE_CAP = 64 * 1024


class TcpProbe(Probe):
    """Values: ``connected`` (true), ``received`` (text read, when sending or expecting)."""

    kind = "tcp"
    config_model = TcpCheckConfig

    def __init__(self, config: TcpCheckConfig) -> None:
        super().__init__(config)
        self.config: TcpCheckConfig = config
        self.payload = config.send.encode() if config.send is not None else None

    def implicit_conditions(self) -> tuple[str, ...]:
        if self.config.expect is None:
            return ()
        return (f"received contains {quote(self.config.expect)}",)

    async def observe(self, *, timeout: float) -> Observation:
        watch = Stopwatch()
        deadline = time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await connect(self.config.host, self.config.port, watch)
        except TimeoutError:
            raise ProbeError("timeout", no_answer_within(timeout), timings=watch.done()) from None
        try:
            received = await self._exchange(reader, writer, deadline)
        except OSError as exc:
            message = f"connection failed after connect: {exc.strerror or exc}"
            raise ProbeError("protocol", message, timings=watch.done()) from None
        finally:
            await close(writer)
        values: dict[str, object] = {"connected": True}
        if received is not None:
            values["received"] = received
            watch.lap("receive")
        return Observation(values=values, timings=watch.done())

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> str | None:
        if self.payload is not None:
            writer.write(self.payload)
            await writer.drain()
        if self.config.expect is None and self.payload is None:
            return None  # nc -zv: connecting is the whole check
        # Read until the expected text, EOF or the deadline; what arrived is the verdict's
        # evidence, so running out of time here is not an error of its own.
        data = b""
        expected = self.config.expect.encode() if self.config.expect is not None else None
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                while len(data) < _RECEIVE_CAP:
                    chunk = await reader.read(4096)
                    data += chunk
                    if not chunk or expected is None or expected in data:
                        break
        except TimeoutError:
            pass
        return data.decode("utf-8", "replace")


def _loop_time(deadline: float) -> float:
    # asyncio.timeout_at wants the loop's clock; both clocks are monotonic seconds.
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())
