"""The command probe: run a program in its own process group; kill the group at the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from opsbook.checks.base import Probe, ProbeError, Stopwatch, no_answer_within
from opsbook.checks.command.config import CommandCheckConfig
from opsbook.checks.result import Observation

OUTPUT_CAP = 64 * 1024  # per stream: enough for a verdict, bounded for storage


class CommandProbe(Probe):
    """Values: ``exit_code``, ``stdout`` and ``stderr`` (text, at most 64 KiB each)."""

    kind = "command"
    config_model = CommandCheckConfig

    def __init__(self, config: CommandCheckConfig) -> None:
        super().__init__(config)
        self.config: CommandCheckConfig = config
        self.env = {**os.environ, **config.env} if config.env else None

    def implicit_conditions(self) -> tuple[str, ...]:
        return (f"exit_code == {self.config.expect_exit or 0}",)

    async def observe(self, *, timeout: float) -> Observation:
        watch = Stopwatch()
        run = self.config.run
        cwd = str(self.config.cwd) if self.config.cwd else None
        pipes: dict[str, Any] = {
            "stdin": asyncio.subprocess.DEVNULL,
            "stdout": asyncio.subprocess.PIPE,
            "stderr": asyncio.subprocess.PIPE,
            # Its own session and process group: killing the group reaches grandchildren.
            "start_new_session": True,
            "env": self.env,
            "cwd": cwd,
        }
        try:
            if isinstance(run, str):
                process = await asyncio.create_subprocess_exec("/bin/sh", "-c", run, **pipes)
            else:
                process = await asyncio.create_subprocess_exec(*run, **pipes)
        except OSError as exc:
            what = run if isinstance(run, str) else run[0]
            raise ProbeError(
                "error", f"cannot start {what!r}: {exc.strerror or exc}", timings=watch.done()
            ) from None
        try:
            async with asyncio.timeout(timeout):
                assert process.stdout is not None
                assert process.stderr is not None
                stdout, stderr, exit_code = await asyncio.gather(
                    _read_capped(process.stdout), _read_capped(process.stderr), process.wait()
                )
        except TimeoutError:
            raise ProbeError("timeout", no_answer_within(timeout), timings=watch.done()) from None
        finally:
            await _kill_group(process)  # also on cancellation: nothing is left behind
        values = {"exit_code": exit_code, "stdout": stdout, "stderr": stderr}
        return Observation(values=values, timings=watch.done())


async def _read_capped(stream: asyncio.StreamReader) -> str:
    kept = bytearray()
    while chunk := await stream.read(65536):
        # Keep reading past the cap (and drop it), or a chatty program blocks on a full pipe.
        kept += chunk[: max(0, OUTPUT_CAP - len(kept))]
    return kept.decode("utf-8", "replace")


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill everything the command started (also after a normal exit), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await process.wait()
    # Close the pipes here, not in a garbage collector after the event loop has gone.
    transport = getattr(process, "_transport", None)
    if transport is not None:
        transport.close()
