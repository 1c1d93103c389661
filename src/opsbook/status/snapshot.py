"""The snapshot: every public document rendered once, stored, and served as bytes.

Nothing public is rendered per request.  A :class:`SnapshotKeeper` in each serving
process polls one row every second (``status_snapshot``: a couple of integers):

- when the inputs changed (a status change bumped the generation, a check changed
  state, an incident changed, the config was reloaded, a maintenance began or ended,
  or ``refresh_every`` passed) and ``rebuild_debounce`` has passed since the last build,
  it takes the build lease (one process builds at a time), renders every document
  from one :class:`~opsbook.status.state.PageState` and stores them with a new version;
- when the stored version is newer than what it serves, it loads the documents.

So with any number of processes on PostgreSQL, each serves the newest snapshot within
about a second of it being stored, and the rendering work is done once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from opsbook.checks.models import CheckTransitionRecord
from opsbook.config import OpsbookConfig
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.incidents.models import IncidentEvent
from opsbook.status import bars, feeds, page, statuspage
from opsbook.status.components import INDICATOR_DESCRIPTIONS, STATUS_LABELS
from opsbook.status.models import StatusSnapshot
from opsbook.status.state import PageState, read_state

log = structlog.get_logger(__name__)

BUILD_LEASE = timedelta(seconds=60)
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
SVG = "image/svg+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
PAGE_PATHS = ("/", "/status")
_BADGE_COLOUR = {
    "none": "operational",
    "maintenance": "under_maintenance",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}


@dataclass(frozen=True, slots=True)
class Document:
    content_type: str
    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    built_at: datetime
    documents: dict[str, Document]

    def find(self, path: str, query: str = "") -> Document | None:
        """The document for a request: ``path?query`` if stored so, else ``path``."""
        if query:
            found = self.documents.get(f"{path}?{query}")
            if found is not None:
                return found
        return self.documents.get(path)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render_all(state: PageState, times: dict[str, tuple[datetime, datetime]]) -> dict[str, Any]:
    """Every public document as ``{path: (content type, text)}``."""
    docs: dict[str, tuple[str, str]] = {}
    html = page.render_page(state)
    for path in PAGE_PATHS:
        docs[path] = (HTML, html)
    for number, text in page.history_pages(state).items():
        docs[f"/status/history?page={number}"] = (HTML, text)
        if number == 1:
            docs["/status/history"] = (HTML, text)
    for code, text in page.incident_pages(state).items():
        docs[f"/status/incidents/{code}"] = (HTML, text)
    for path, body in statuspage.documents(state, times).items():
        docs[path] = (JSON, _json(body))
    atom, rss = feeds.atom(state), feeds.rss(state)
    for path in ("/status/feed.atom", "/history.atom"):
        docs[path] = (ATOM, atom)
    for path in ("/status/feed.rss", "/history.rss"):
        docs[path] = (RSS, rss)
    colours = state.page.colours.model_dump()
    overall = colours[_BADGE_COLOUR[state.indicator]]
    docs["/status/badge.svg"] = (
        SVG,
        bars.badge(state.name, INDICATOR_DESCRIPTIONS[state.indicator].lower(), overall),
    )
    for item in state.components:
        c = item.component
        docs[f"/status/badge/{c.id}.svg"] = (
            SVG,
            bars.badge(c.name, STATUS_LABELS[item.status].lower(), colours[item.status]),
        )
    return docs


def _times(
    state: PageState, previous: dict[str, Any]
) -> tuple[dict[str, tuple[datetime, datetime]], dict[str, Any]]:
    """(created_at, updated_at) per component: first seen, and since its status last changed."""
    known = previous.get("components", {}) if isinstance(previous, dict) else {}
    times: dict[str, tuple[datetime, datetime]] = {}
    details: dict[str, list[str]] = {}
    for item in state.components:
        cid = item.component.id
        status, first, since = item.status, state.now, state.now
        if cid in known:
            old_status, old_first, old_since = known[cid]
            first = datetime.fromisoformat(old_first)
            since = datetime.fromisoformat(old_since) if old_status == status else state.now
        times[cid] = (first, since)
        details[cid] = [status, first.isoformat(), since.isoformat()]
    return times, {"components": details}


def config_digest(config: OpsbookConfig) -> str:
    relevant = {
        "service": config.service.model_dump(mode="json"),
        "components": [c.model_dump(mode="json") for c in config.components],
        "checks": {c.name: c.component for c in config.checks},
        "status_page": config.status_page.model_dump(mode="json"),
        "public_url": config.settings.public_url,
    }
    return hashlib.sha256(_json(relevant).encode()).hexdigest()[:16]


def fingerprint(session: Session, *, config: OpsbookConfig, now: datetime) -> str:
    """The inputs a snapshot depends on; a different value means rebuild."""
    generation = session.scalar(select(StatusSnapshot.generation).where(StatusSnapshot.id == 1))
    transitions = session.scalar(select(func.max(CheckTransitionRecord.id)))
    events = session.scalar(select(func.max(IncidentEvent.id)))
    return (
        f"g{generation or 0}:t{transitions or 0}:e{events or 0}:"
        f"c{config_digest(config)}:d{now.date().isoformat()}"
    )


def _pack(docs: dict[str, tuple[str, str]]) -> bytes:
    return zlib.compress(_json(docs).encode(), level=6)


def _unpack(blob: bytes, version: int, built_at: datetime) -> Snapshot:
    raw = json.loads(zlib.decompress(blob))
    documents = {}
    for path, (content_type, text) in raw.items():
        body = text.encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        documents[path] = Document(content_type, body, etag)
    return Snapshot(version=version, built_at=built_at, documents=documents)


def _ensure_row(session: Session) -> None:
    if session.get(StatusSnapshot, 1) is None:
        session.add(StatusSnapshot(id=1, generation=0, version=0, fingerprint=""))
        session.flush()


def build(db: Database, *, config: OpsbookConfig, now: datetime, owner: str) -> bool:
    """Render and store a new snapshot if this process gets the build lease."""
    with db.session() as session, session.begin():
        _ensure_row(session)
        taken = session.execute(
            update(StatusSnapshot)
            .where(
                StatusSnapshot.id == 1,
                (StatusSnapshot.lease_owner.is_(None)) | (StatusSnapshot.lease_expires_at < now),
            )
            .values(lease_owner=owner, lease_expires_at=now + BUILD_LEASE)
        )
        if not taken.rowcount:  # type: ignore[attr-defined]
            return False
    try:
        with db.read_session() as session:
            inputs = fingerprint(session, config=config, now=now)
            previous = session.scalar(select(StatusSnapshot.details).where(StatusSnapshot.id == 1))
            state = read_state(session, config=config, now=now)
        times, details = _times(state, previous or {})
        blob = _pack(render_all(state, times))
    except Exception:
        with db.session() as session, session.begin():
            session.execute(
                update(StatusSnapshot)
                .where(StatusSnapshot.id == 1, StatusSnapshot.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
        raise
    with db.session() as session, session.begin():
        session.execute(
            update(StatusSnapshot)
            .where(StatusSnapshot.id == 1, StatusSnapshot.lease_owner == owner)
            .values(
                version=StatusSnapshot.version + 1,
                fingerprint=inputs,
                built_at=now,
                valid_until=state.valid_until,
                documents=blob,
                details=details,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
    log.info("status.snapshot_built", bytes=len(blob), indicator=state.indicator)
    return True


@dataclass
class SnapshotKeeper:
    """Keeps this process's snapshot fresh (see the module docstring).

    >>> keeper = SnapshotKeeper(db=db, clock=clock, config=lambda: config, owner="web-1")
    >>> keeper.refresh(force=True).find("/api/v2/summary.json")
    """

    db: Database
    clock: Clock
    config: Callable[[], OpsbookConfig]
    owner: str
    current: Snapshot | None = None
    on_change: list[Callable[[Snapshot], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refresh(self, *, force: bool = False) -> Snapshot | None:
        """One round: rebuild if stale (and allowed), load if newer; returns what is served."""
        with self._lock:
            config = self.config()
            now = self.clock.now()
            with self.db.read_session() as session:
                row = session.execute(
                    select(
                        StatusSnapshot.version,
                        StatusSnapshot.fingerprint,
                        StatusSnapshot.built_at,
                        StatusSnapshot.valid_until,
                    ).where(StatusSnapshot.id == 1)
                ).first()
                inputs = fingerprint(session, config=config, now=now)
            stale = (
                row is None
                or row.version == 0
                or row.fingerprint != inputs
                or (row.valid_until is not None and now >= row.valid_until)
            )
            debounce = config.status_page.rebuild_debounce
            due = force or row is None or row.built_at is None or now - row.built_at >= debounce
            if stale and due:
                build(self.db, config=config, now=now, owner=self.owner)
            self._load()
            return self.current

    def _load(self) -> None:
        with self.db.read_session() as session:
            version = session.scalar(select(StatusSnapshot.version).where(StatusSnapshot.id == 1))
            if version is None or version == 0:
                return
            if self.current is not None and self.current.version == version:
                return
            row = session.execute(
                select(
                    StatusSnapshot.version, StatusSnapshot.built_at, StatusSnapshot.documents
                ).where(StatusSnapshot.id == 1)
            ).first()
        if row is None or row.documents is None or row.built_at is None:
            return
        snapshot = _unpack(row.documents, row.version, row.built_at)
        self.current = snapshot
        for callback in self.on_change:
            callback(snapshot)

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set (a thread's target)."""
        while not stop.is_set():
            try:
                self.refresh()
            except Exception:
                log.exception("status.snapshot_refresh_failed")
            stop.wait(interval)

    def start(self, stop: threading.Event, *, interval: float = 1.0) -> threading.Thread:
        thread = threading.Thread(
            target=self.run,
            args=(stop,),
            kwargs={"interval": interval},
            name="opsbook-status-snapshot",
            daemon=True,
        )
        thread.start()
        return thread
