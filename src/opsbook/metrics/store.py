"""Writing samples: find or create each series, then insert the samples, in one transaction.

    write_samples(session, samples=[Sample("up", {"job": "api"}, 1.0, now)], now=now,
                  cache=series_cache)

Series ids are cached per process (:class:`SeriesCache`): a series is never deleted
while it has data, and a cached id is dropped long before its data can expire, so the
hot path of a push or a scrape is one insert of its samples.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.metrics.models import MetricSample, MetricSeries

METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Samples further in the past are refused: their 5-minute rollup may already be written.
ACCEPT_PAST: Final = timedelta(hours=1)
ACCEPT_FUTURE: Final = timedelta(minutes=10)
MAX_LABELS: Final = 30
MAX_LABEL_VALUE: Final = 1024
_CACHE_TTL_S: Final = 600.0
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of one series: ``labels`` never include ``__name__``."""

    name: str
    labels: Mapping[str, str]
    value: float
    at: datetime


class SampleError(ValueError):
    """A sample that cannot be stored; the message says which and why."""


def validate(sample: Sample, *, now: datetime) -> None:
    """Raise :class:`SampleError` for a name, label, value or time that the store refuses."""
    if not METRIC_NAME.fullmatch(sample.name):
        raise SampleError(f"metric name {sample.name!r} must match {METRIC_NAME.pattern}")
    if len(sample.labels) > MAX_LABELS:
        raise SampleError(f"at most {MAX_LABELS} labels per series")
    for label, value in sample.labels.items():
        if not LABEL_NAME.fullmatch(label) or label.startswith("__"):
            raise SampleError(
                f"label name {label!r} must match {LABEL_NAME.pattern} and not start with __"
            )
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE:
            raise SampleError(f"label {label!r} needs a string value of at most 1024 characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise SampleError(f"label {label!r} is not valid Unicode text") from None
    if isinstance(sample.value, bool) or not isinstance(sample.value, int | float):
        raise SampleError("value must be a number")
    if not now - ACCEPT_PAST <= sample.at <= now + ACCEPT_FUTURE:
        raise SampleError(
            f"timestamp {sample.at.isoformat()} is outside the accepted range"
            " (from 1 hour ago to 10 minutes ahead)"
        )


def fingerprint(name: str, labels: Mapping[str, str]) -> str:
    # repr of str is unambiguous (quotes escaped), and cheaper than json.dumps here.
    text = repr((name, sorted(labels.items())))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class SeriesCache:
    """Fingerprint -> series id for one database, with entries forgotten after 10 minutes."""

    _ids: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str) -> int | None:
        entry = self._ids.get(key)
        if entry is None or time.monotonic() - entry[1] > _CACHE_TTL_S:
            return None
        return entry[0]

    def put(self, items: Iterable[tuple[str, int]]) -> None:
        stamp = time.monotonic()
        with self._lock:
            if len(self._ids) > 1_000_000:
                self._ids.clear()
            for key, series_id in items:
                self._ids[key] = (series_id, stamp)


def insert_for(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def series_ids(
    session: Session,
    *,
    series: Mapping[str, tuple[str, Mapping[str, str]]],
    now: datetime,
    cache: SeriesCache | None = None,
) -> dict[str, int]:
    """Ids of ``{fingerprint: (name, labels)}``, creating the series that are new."""
    found: dict[str, int] = {}
    missing: list[str] = []
    for key in series:
        cached = cache.get(key) if cache is not None else None
        if cached is None:
            missing.append(key)
        else:
            found[key] = cached
    if missing:
        rows = [
            {
                "name": series[k][0],
                "fingerprint": k,
                "labels": dict(series[k][1]),
                "created_at": now,
            }
            for k in sorted(missing)
        ]
        stmt = insert_for(session)(MetricSeries).on_conflict_do_nothing(
            index_elements=["fingerprint"]
        )
        session.execute(stmt, rows)
        created: dict[str, int] = {}
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows_found = session.execute(
                select(MetricSeries.fingerprint, MetricSeries.id).where(
                    MetricSeries.fingerprint.in_(chunk)
                )
            )
            created.update((key, series_id) for key, series_id in rows_found)
        found.update(created)
        if cache is not None:
            cache.put(created.items())
    return found


def write_samples(
    session: Session,
    *,
    samples: Sequence[Sample],
    now: datetime,
    cache: SeriesCache | None = None,
) -> int:
    """Store ``samples`` (already validated) in the caller's transaction; returns how many.

    A sample repeating an earlier one's series and time replaces it, in the batch as in
    the table (the last one wins).
    """
    if not samples:
        return 0
    keys = [fingerprint(s.name, s.labels) for s in samples]
    wanted = {key: (s.name, s.labels) for key, s in zip(keys, samples, strict=True)}
    ids = series_ids(session, series=wanted, now=now, cache=cache)
    rows: dict[tuple[int, int], float] = {}
    for key, sample in zip(keys, samples, strict=True):
        value = float(sample.value)
        rows[(ids[key], to_ms(sample.at))] = value
    # A Core insert: the ORM's bulk path costs more than the database on this hot path.
    stmt = insert_for(session)(MetricSample.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["series_id", "at_ms"], set_={"value": stmt.excluded.value}
    )
    session.connection().execute(
        stmt,
        [{"series_id": sid, "at_ms": at, "value": v} for (sid, at), v in sorted(rows.items())],
    )
    return len(rows)
