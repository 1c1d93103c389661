"""What a check run produces: frozen values that travel (to storage, to rules, to the API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

CheckStatus = Literal["up", "down", "unknown"]

# Phase timings, in seconds, named as curl -w names them where they overlap.
PHASES = ("dns", "connect", "tls", "ttfb", "total")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a run failed: a stable ``code`` for machines and a ``message`` for people.

    Codes: ``timeout``, ``dns``, ``connect``, ``tls``, ``protocol``, ``status``,
    ``condition``, ``error`` (anything else), ``canary`` (Opsbook's own network is down).
    """

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ConditionVerdict:
    """One condition evaluated: ``expected body.status == "ok", got "degraded"``."""

    expression: str
    ok: bool
    observed: Any
    message: str


@dataclass(frozen=True, slots=True)
class Observation:
    """What a probe saw, before conditions are applied.

    ``values`` is the tree conditions read (``status``, ``body``, ``headers``, ``tls``,
    ``result``, ``exit_code`` ...); ``timings`` are phase durations in seconds.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One run of one check."""

    check: str
    kind: str
    started_at: datetime
    ok: bool
    status: CheckStatus
    reason: Reason | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    observed: Mapping[str, Any] = field(default_factory=dict)
    verdicts: tuple[ConditionVerdict, ...] = ()

    @property
    def duration(self) -> float:
        """Total run time in seconds (``timings["total"]``, 0 when unknown)."""
        return float(self.timings.get("total", 0.0))


class RunnableCheck(Protocol):
    """A configured check ready to run: what the scheduler needs of it."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def every(self) -> timedelta: ...
    @property
    def timeout(self) -> timedelta: ...
    @property
    def fail_after(self) -> int: ...
    @property
    def recover_after(self) -> int: ...

    async def run(self, *, started_at: datetime) -> CheckResult:
        """Run once; never raises: failures become a failed :class:`CheckResult`."""
        ...
