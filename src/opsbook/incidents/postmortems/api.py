"""HTTP endpoints of postmortems and action items.

An incident has at most one postmortem, so it lives under the incident:
``/api/v1/incidents/{number}/postmortem``.  Lists across incidents are
``/api/v1/postmortems`` and ``/api/v1/action-items``.  Errors as for incidents: 404 for
what does not exist, 409 for a change the postmortem's state refuses, 422 for a
malformed request.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.core.auth import Principal
from opsbook.core.security import require, viewer
from opsbook.incidents.http import expected_version, refusals, runtime_of
from opsbook.incidents.postmortems import action_items, export, service
from opsbook.incidents.postmortems.models import Postmortem
from opsbook.incidents.postmortems.schemas import (
    ActionItemChange,
    ActionItemIn,
    ActionItemOut,
    PostmortemDetail,
    PostmortemOut,
    PostmortemStatusIn,
    SectionIn,
    SectionOut,
    action_items_out,
    postmortem_detail,
    postmortem_out,
)
from opsbook.incidents.postmortems.state import ActionItemStatus, PostmortemStatus

router = APIRouter(prefix="/api/v1", tags=["postmortems"])
_responder = require("responder")
SectionKey = Literal[
    "summary", "timeline", "root_cause", "impact", "resolution", "prevention", "lessons_learned"
]
_MEDIA = {"markdown": "text/markdown; charset=utf-8", "json": "application/json"}


def _postmortem_of(session: Session, number: int) -> Postmortem:
    incident = incidents.get_incident(session, number=number)
    return service.get_postmortem(session, incident_id=incident.id)


def _detail(request: Request, session: Session, postmortem: Postmortem) -> PostmortemDetail:
    runtime = runtime_of(request)
    return postmortem_detail(session, postmortem, config=runtime.config, now=runtime.clock.now())


@router.post("/incidents/{number}/postmortem", response_model=PostmortemDetail, status_code=201)
def draft(
    request: Request, number: int, principal: Principal = Depends(_responder)
) -> PostmortemDetail:
    """Draft the incident's postmortem from its record (the incident must be resolved)."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.session() as session, session.begin():
        incident = incidents.get_incident(session, number=number)
        postmortem = service.draft_postmortem(
            session,
            config=runtime.config,
            incident_id=incident.id,
            by=principal.actor,
            now=runtime.clock.now(),
        )
        return _detail(request, session, postmortem)


@router.get(
    "/incidents/{number}/postmortem", response_model=PostmortemDetail, dependencies=[viewer]
)
def get_postmortem(request: Request, number: int) -> PostmortemDetail:
    """The postmortem with its sections, action items, due time and overdue mark."""
    with refusals(), runtime_of(request).db.read_session() as session:
        return _detail(request, session, _postmortem_of(session, number))


@router.put("/incidents/{number}/postmortem/sections/{key}", response_model=SectionOut)
def write_section(
    request: Request,
    number: int,
    key: SectionKey,
    body: SectionIn,
    principal: Principal = Depends(_responder),
    version: int | None = Depends(expected_version),
) -> SectionOut:
    """Replace a section's markdown; ``If-Match`` takes the section's ``version``."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.session() as session, session.begin():
        section = service.write_section(
            session,
            postmortem_id=_postmortem_of(session, number).id,
            key=key,
            markdown=body.markdown,
            by=principal.actor,
            now=runtime.clock.now(),
            expected_version=version,
        )
        return SectionOut.model_validate(section)


@router.post("/incidents/{number}/postmortem/status", response_model=PostmortemDetail)
def set_status(
    request: Request,
    number: int,
    body: PostmortemStatusIn,
    principal: Principal = Depends(_responder),
) -> PostmortemDetail:
    """Move the postmortem: draft, in_review, published, closed (docs/incidents.md)."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.session() as session, session.begin():
        postmortem = service.set_postmortem_status(
            session,
            postmortem_id=_postmortem_of(session, number).id,
            to=body.to,
            by=principal.actor,
            now=runtime.clock.now(),
        )
        return _detail(request, session, postmortem)


@router.get("/incidents/{number}/postmortem/export", dependencies=[viewer])
def export_postmortem(
    request: Request,
    number: int,
    format: Literal["markdown", "json"] = Query("markdown"),
) -> Response:
    """The postmortem as a Markdown or JSON file; secrets are masked."""
    runtime = runtime_of(request)
    with refusals(), runtime.db.read_session() as session:
        text = export.export(
            session,
            _postmortem_of(session, number),
            fmt=format,
            config=runtime.config,
            now=runtime.clock.now(),
        )
    suffix = "md" if format == "markdown" else "json"
    return Response(
        text,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="postmortem-{number}.{suffix}"'},
    )


@router.post(
    "/incidents/{number}/postmortem/action-items",
    response_model=ActionItemOut,
    status_code=201,
)
def add_action_item(
    request: Request, number: int, body: ActionItemIn, principal: Principal = Depends(_responder)
) -> ActionItemOut:
    """Add an action item: a title, an owner (a person id) and a due day."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with refusals(), runtime.db.session() as session, session.begin():
        item = action_items.add_action_item(
            session,
            config=runtime.config,
            postmortem_id=_postmortem_of(session, number).id,
            title=body.title,
            owner=body.owner,
            due_on=body.due_on,
            by=principal.actor,
            now=now,
        )
        return action_items_out(session, [item], config=runtime.config, now=now)[0]


@router.get("/postmortems", response_model=list[PostmortemOut], dependencies=[viewer])
def list_postmortems(
    request: Request,
    status: PostmortemStatus | None = None,
    overdue: bool = Query(False, description="Only postmortems past their due time unpublished"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[PostmortemOut]:
    """Postmortems across incidents, newest incident first."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        found = [
            postmortem_out(postmortem, incident, config=runtime.config, now=now)
            for postmortem, incident in service.list_postmortems(
                session, status=status, limit=limit
            )
        ]
    return [p for p in found if p.overdue] if overdue else found


@router.get("/action-items", response_model=list[ActionItemOut], dependencies=[viewer])
def list_action_items(
    request: Request,
    status: list[ActionItemStatus] | None = Query(None, description="Repeatable"),
    owner: str | None = None,
    overdue: bool = Query(False, description="Only open items past their due day"),
    limit: int = Query(500, ge=1, le=5000),
) -> list[ActionItemOut]:
    """Action items across incidents, soonest due first."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.db.read_session() as session:
        items = action_items.list_action_items(
            session,
            config=runtime.config,
            now=now,
            status=status,
            owner=owner,
            overdue=overdue,
            limit=limit,
        )
        return action_items_out(session, items, config=runtime.config, now=now)


@router.patch("/action-items/{item_id}", response_model=ActionItemOut)
def change_action_item(
    request: Request,
    item_id: int,
    body: ActionItemChange,
    principal: Principal = Depends(_responder),
) -> ActionItemOut:
    """Change an item's title, owner, due day or status (absent fields are kept)."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with refusals(), runtime.db.session() as session, session.begin():
        item = action_items.change_action_item(
            session,
            config=runtime.config,
            item_id=item_id,
            title=body.title,
            owner=body.owner,
            due_on=body.due_on,
            status=body.status,
            by=principal.actor,
            now=now,
        )
        return action_items_out(session, [item], config=runtime.config, now=now)[0]
