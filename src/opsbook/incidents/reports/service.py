"""Incident reports for a time range: MTTA, MTTR, counts, breaches, and pages per person.

Everything is read from the record: the incidents' timestamps and their timeline
entries.  An incident belongs to the range it was *triggered* in; a page or an
acknowledgement to the range it happened in.  Merged duplicates are left out: they are
the same incident counted twice.

- **MTTA**: mean of ``acknowledged_at - triggered_at`` over the acknowledged incidents.
- **MTTR**: mean of ``resolved_at - triggered_at`` over the resolved (or closed) ones.
- **Breaches**: incidents whose respond-within target passed unacknowledged
  (``breached_at``); **escalations**: ``escalated`` entries.
- **Pages**: ``paged`` entries (written by on-call when it pages a person), one per
  person and paging instant however many channels carried it (PagerDuty's "unique
  interruptions"), bucketed by :mod:`~opsbook.incidents.reports.hours` in the person's
  time zone (``people[].timezone``, else ``service.timezone``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from opsbook.config.defaults import SEVERITIES
from opsbook.incidents.models import Incident, IncidentEvent
from opsbook.incidents.reports.hours import BUCKETS, Bucket, bucket_of

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

GroupBy = Literal["severity", "service"]
GROUPINGS: Final[tuple[GroupBy, ...]] = ("severity", "service")
NO_SERVICE: Final = "(none)"
# Actor prefixes that always name a person; the others do when the name is in people:.
_PERSON_KINDS: Final = frozenset({"person", "session"})
_MAYBE_PERSON_KINDS: Final = frozenset({"token", "cli", ""})


def person_of(actor: str, config: OpsbookConfig) -> str | None:
    """The person id behind a timeline actor, or None for a system or an unknown caller.

    ``person:alice`` and ``session:alice`` are alice; ``token:alice``, ``cli:alice`` and a
    bare ``alice`` are alice when ``alice`` is in ``people:``; ``opsbook``,
    ``token:ci`` or ``pagerduty`` are nobody.
    """
    kind, sep, name = actor.partition(":")
    if not sep:
        kind, name = "", actor
    if kind in _PERSON_KINDS and name:
        return name
    if kind in _MAYBE_PERSON_KINDS and config.find_person(name) is not None:
        return name
    return None


@dataclass(frozen=True, slots=True)
class GroupStats:
    key: str
    incidents: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None
    mttr: timedelta | None
    breaches: int
    escalations: int


@dataclass(frozen=True, slots=True)
class PersonPages:
    person: str
    name: str
    timezone: str
    business_hours: int
    off_hours: int
    sleep_hours: int
    acknowledgements: int

    @property
    def pages(self) -> int:
        return self.business_hours + self.off_hours + self.sleep_hours


@dataclass(frozen=True, slots=True)
class IncidentReport:
    start: datetime
    end: datetime
    by: GroupBy | None
    total: GroupStats
    groups: tuple[GroupStats, ...]
    people: tuple[PersonPages, ...]


def _mean(deltas: Sequence[timedelta]) -> timedelta | None:
    return timedelta(seconds=fmean(d.total_seconds() for d in deltas)) if deltas else None


def _stats(key: str, incidents: Sequence[Incident], escalations: Counter[int]) -> GroupStats:
    acked = [i.acknowledged_at - i.triggered_at for i in incidents if i.acknowledged_at]
    resolved = [i.resolved_at - i.triggered_at for i in incidents if i.resolved_at]
    return GroupStats(
        key=key,
        incidents=len(incidents),
        acknowledged=len(acked),
        resolved=len(resolved),
        mtta=_mean(acked),
        mttr=_mean(resolved),
        breaches=sum(1 for i in incidents if i.breached_at is not None),
        escalations=sum(escalations[i.id] for i in incidents),
    )


def _group_key(incident: Incident, by: GroupBy) -> str:
    return incident.severity if by == "severity" else (incident.service or NO_SERVICE)


def _entries(
    session: Session, kinds: Iterable[str], start: datetime, end: datetime
) -> Iterator[Row[tuple[int, str, str, datetime, dict[str, Any]]]]:
    """The columns the report reads (not whole entries: a month may hold many thousands)."""
    stmt = (
        select(
            IncidentEvent.incident_id,
            IncidentEvent.kind,
            IncidentEvent.actor,
            IncidentEvent.at,
            IncidentEvent.data,
        )
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(
            IncidentEvent.kind.in_(list(kinds)),
            IncidentEvent.at >= start,
            IncidentEvent.at < end,
            Incident.merged_into_id.is_(None),
        )
        .order_by(IncidentEvent.id)
    )
    return iter(session.execute(stmt))


def _zone(config: OpsbookConfig, person: str) -> ZoneInfo:
    found = config.find_person(person)
    return found.timezone if found and found.timezone else config.service.timezone


def _people(
    session: Session, *, config: OpsbookConfig, start: datetime, end: datetime
) -> tuple[PersonPages, ...]:
    buckets: defaultdict[str, Counter[Bucket]] = defaultdict(Counter)
    seen: set[tuple[object, ...]] = set()
    acks: Counter[str] = Counter()
    for entry in _entries(session, ("paged", "acknowledged"), start, end):
        if entry.kind == "acknowledged":
            if (person := person_of(entry.actor, config)) is not None:
                acks[person] += 1
            continue
        raw = entry.data.get("person")
        person = person_of(str(raw), config) if raw else None
        if person is None:
            continue
        instant = (entry.incident_id, person, entry.data.get("level"), entry.data.get("step"))
        if (*instant, entry.at) in seen:
            continue  # the same page sent through one more channel
        seen.add((*instant, entry.at))
        buckets[person][bucket_of(entry.at, _zone(config, person))] += 1
    rows = []
    for person in sorted(buckets.keys() | acks.keys()):
        found = config.find_person(person)
        counts = buckets[person]
        rows.append(
            PersonPages(
                person=person,
                name=found.name if found else person,
                timezone=_zone(config, person).key,
                **{bucket: counts[bucket] for bucket in BUCKETS},
                acknowledgements=acks[person],
            )
        )
    return tuple(sorted(rows, key=lambda row: (-row.pages, row.person)))


def incident_report(
    session: Session,
    *,
    config: OpsbookConfig,
    start: datetime,
    end: datetime,
    by: GroupBy | None = None,
) -> IncidentReport:
    """The report for incidents triggered in ``[start, end)``, grouped ``by`` if given."""
    if end <= start:
        raise ValueError("the end of a report's range must be after its start")
    found = list(
        session.scalars(
            select(Incident)
            .where(
                Incident.triggered_at >= start,
                Incident.triggered_at < end,
                Incident.merged_into_id.is_(None),
            )
            .order_by(Incident.number)
        )
    )
    escalations: Counter[int] = Counter()
    if found:
        stmt = select(IncidentEvent.incident_id).where(
            IncidentEvent.kind == "escalated",
            IncidentEvent.incident_id.in_([i.id for i in found]),
        )
        escalations.update(session.scalars(stmt))
    groups: list[GroupStats] = []
    if by is not None:
        members: dict[str, list[Incident]] = {}
        for incident in found:
            members.setdefault(_group_key(incident, by), []).append(incident)
        order = list(SEVERITIES) if by == "severity" else sorted(members)
        groups = [_stats(key, members.get(key, []), escalations) for key in order]
    return IncidentReport(
        start=start,
        end=end,
        by=by,
        total=_stats("all", found, escalations),
        groups=tuple(groups),
        people=_people(session, config=config, start=start, end=end),
    )
