"""The one interface every alert source uses to hand alerts to the pipeline.

A source (a rule evaluation, an inbound request) builds :class:`AlertInput` values and
calls an :class:`AlertSink` inside the transaction that records its own state, so the
source's state and the pipeline's intake commit together or not at all: a rule that
went firing has its alert in the pipeline, or neither happened.

The semantics are Alertmanager's, which every source can be mapped onto:

- an alert is identified by its label set (its fingerprint); repeating a firing alert
  refreshes it and changes nothing else;
- ``ends_at`` unset, or in the future, means firing; ``ends_at`` at or before ``now``
  means resolved as of ``ends_at``;
- ``starts_at`` unset means ``now``;
- ``dedup_key`` (optional) identifies the alert instead of its label set, for sources
  that have their own key (PagerDuty's ``dedup_key``): repeats with that key touch the
  open alert whatever their labels; ``extra`` carries what a source says beyond labels
  and annotations (PagerDuty's ``custom_details``, ``links``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertInput:
    """One alert as its source states it.

    ``source`` names where it came from: ``rule``, ``alertmanager``, ``pagerduty``,
    ``webhook:<name>`` or ``manual``.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    source: str = "api"
    dedup_key: str | None = None
    extra: Mapping[str, Any] | None = None

    def is_resolved(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now


class AlertSink(Protocol):
    """What a source calls; :func:`opsbook.alerts.service.receive` is the real one.

    Runs in the caller's transaction and must not do network I/O.
    """

    def __call__(
        self, session: Session, *, alerts: Sequence[AlertInput], now: datetime
    ) -> object: ...
