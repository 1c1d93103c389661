"""Turn a configured check into something the scheduler can run: probe, conditions, verdict.

check = compile_check(config.find_check("api-health"))
result = await check.run(started_at=clock.now())
result.ok, result.reason, result.timings["ttfb"], result.verdicts
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from opsbook.checks.base import Probe, ProbeError, no_answer_within
from opsbook.checks.conditions import Condition
from opsbook.checks.config import CheckConfig
from opsbook.checks.registry import PROBE_KINDS
from opsbook.checks.result import CheckResult, ConditionVerdict, Reason

__all__ = ["CompiledCheck", "compile_check", "compile_checks", "is_probe_check"]

log = structlog.get_logger(__name__)

# The probe enforces the timeout itself, reporting the phases it finished; this margin
# lets it do so before the runner's own guard cancels a probe that did not.
_GUARD_MARGIN = 0.25


def is_probe_check(config: CheckConfig) -> bool:
    """Whether Opsbook probes this check (``heartbeat`` checks are pinged instead)."""
    return config.kind in PROBE_KINDS


@dataclass(frozen=True, slots=True)
class CompiledCheck:
    """A probe check ready to run; satisfies :class:`~opsbook.checks.result.RunnableCheck`."""

    name: str
    kind: str
    every: timedelta
    timeout: timedelta
    fail_after: int
    recover_after: int
    component: str | None
    labels: Mapping[str, str]
    config: CheckConfig
    probe: Probe
    # Implicit conditions (from the kind's options) first, each with its Reason code.
    conditions: tuple[tuple[Condition, str], ...]

    async def run(self, *, started_at: datetime) -> CheckResult:
        """Run once and judge the result; never raises (cancellation aside)."""
        seconds = self.timeout.total_seconds()
        begun = time.perf_counter()
        try:
            async with asyncio.timeout(seconds + _GUARD_MARGIN):
                observation = await self.probe.observe(timeout=seconds)
        except ProbeError as exc:
            return self._failed(
                started_at, Reason(exc.code, exc.message), exc.timings, begun, exc.values
            )
        except TimeoutError:
            return self._failed(started_at, Reason("timeout", no_answer_within(seconds)), {}, begun)
        except Exception as exc:  # a probe's bug must not stop the scheduler
            log.exception("checks.probe_crashed", check=self.name, kind=self.kind)
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._failed(started_at, Reason("error", message), {}, begun)

        timings = dict(observation.timings)
        timings.setdefault("total", time.perf_counter() - begun)
        verdicts: list[ConditionVerdict] = []
        reason: Reason | None = None
        for condition, code in self.conditions:
            verdict = condition.evaluate(observation.values)
            verdicts.append(verdict)
            if reason is None and not verdict.ok:
                reason = Reason(code, verdict.message)
        return CheckResult(
            check=self.name,
            kind=self.kind,
            started_at=started_at,
            ok=reason is None,
            status="up" if reason is None else "down",
            reason=reason,
            timings=timings,
            observed=observation.values,
            verdicts=tuple(verdicts),
        )

    def _failed(
        self,
        started_at: datetime,
        reason: Reason,
        timings: Mapping[str, float],
        begun: float,
        values: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        measured = dict(timings)
        measured.setdefault("total", time.perf_counter() - begun)
        return CheckResult(
            check=self.name,
            kind=self.kind,
            started_at=started_at,
            ok=False,
            status="down",
            reason=reason,
            timings=measured,
            observed=dict(values or {}),
        )


def compile_check(config: CheckConfig) -> CompiledCheck:
    """Build the probe and parse its implicit conditions; ``ValueError`` for a heartbeat."""
    if not is_probe_check(config):
        raise ValueError(
            f'check "{config.name}" is a {config.kind} check: Opsbook does not probe it '
            "(see is_probe_check)"
        )
    probe = PROBE_KINDS[config.kind](config.spec)
    implicit = tuple(
        (Condition.parse(text), probe.reason_code(text)) for text in probe.implicit_conditions()
    )
    return CompiledCheck(
        name=config.name,
        kind=config.kind,
        every=config.every,
        timeout=config.timeout,
        fail_after=config.fail_after,
        recover_after=config.recover_after,
        component=config.component,
        labels=dict(config.labels),
        config=config,
        probe=probe,
        conditions=implicit + tuple((c, "condition") for c in config.conditions),
    )


def compile_checks(configs: Iterable[CheckConfig]) -> tuple[CompiledCheck, ...]:
    """Every probe check of ``configs``, compiled; heartbeat checks are left out."""
    return tuple(compile_check(config) for config in configs if is_probe_check(config))
