"""The one interface every check kind implements.

A kind is a folder ``opsbook/checks/<kind>/`` with ``config.py`` (its pydantic model,
the YAML under ``checks[N].<kind>``) and ``probe.py`` (a :class:`Probe`), plus one line
in :mod:`opsbook.checks.registry`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from opsbook.checks.result import Observation
from opsbook.config.values import format_duration


class ProbeError(Exception):
    """A run that could not observe what it came for: refused, timed out, bad TLS...

    ``code`` is a :class:`~opsbook.checks.result.Reason` code; ``timings`` and ``values``
    keep whatever was measured before the failure (connect time of a refused TLS, say).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        timings: Mapping[str, float] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.timings = dict(timings or {})
        self.values = dict(values or {})


class Stopwatch:
    """Phase timings of one run: ``lap("connect")`` records the time since the last lap.

    ``done()`` adds ``total`` (since the start) and returns the timings, so a probe that
    fails half-way still reports the phases it finished.
    """

    __slots__ = ("_last", "_start", "timings")

    def __init__(self) -> None:
        self._start = self._last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, phase: str) -> float:
        now = time.perf_counter()
        elapsed = now - self._last
        self.timings[phase] = elapsed
        self._last = now
        return elapsed

    def skip(self) -> None:
        """Start the next phase now, without recording the time since the last lap."""
        self._last = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def done(self) -> dict[str, float]:
        self.timings["total"] = self.elapsed()
        return self.timings


def no_answer_within(timeout: float, what: str = "") -> str:
    """The message of a timeout: ``no answer within 5s`` (plus what was still awaited)."""
    text = f"no answer within {format_duration(timedelta(milliseconds=round(timeout * 1000)))}"
    return f"{text} ({what})" if what else text


class Probe(ABC):
    """Observes one target once.  Built once per check config; ``observe`` runs per run.

    ``observe`` must honour ``timeout`` (seconds) itself where it can, raising
    ``ProbeError("timeout", ...)`` with the phases it finished, and must leave nothing
    behind (sockets closed, processes killed) even when cancelled. A probe holds no state
    of one run: runs of the same check may overlap.
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[Any]]

    def __init__(self, config: Any) -> None:
        self.config = config

    @abstractmethod
    async def observe(self, *, timeout: float) -> Observation:
        """Run once; raise :class:`ProbeError` when nothing could be observed."""

    def implicit_conditions(self) -> tuple[str, ...]:
        """Conditions the options imply, e.g. ``expect_status: [200]`` gives ``status in [200]``."""
        return ()

    def reason_code(self, condition: str) -> str:
        """The :class:`~opsbook.checks.result.Reason` code when implicit ``condition`` fails."""
        return "condition"
